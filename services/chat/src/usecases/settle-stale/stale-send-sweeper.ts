import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { ChatConfig } from '../../config.js';
import { SettleStale } from './settle-stale.usecase.js';

/** Refunds the energy of sends that died mid-way (SettleStale), every CHAT_SETTLE_SWEEP_INTERVAL_MS. */
@Injectable()
export class StaleSendSweeper extends PeriodicSweeper {
  constructor(
    private readonly settle: SettleStale,
    @Inject(LOGGER) logger: Logger,
    @Inject(ChatConfig) config: ChatConfig,
  ) {
    super(logger, config.CHAT_SETTLE_SWEEP_INTERVAL_MS, 'stale chat send sweep');
  }

  protected run(): Promise<number> {
    return this.settle.execute();
  }
}

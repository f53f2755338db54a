import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { ChatConfig } from '../../config.js';
import { PurgeExpired } from './purge-expired.usecase.js';

/**
 * §5.5 holds while retention is down: chat deletes messages past their retention itself
 * every CHAT_SWEEP_INTERVAL_MS, each deletion confirmed with PurgeCompleted for retention to audit.
 */
@Injectable()
export class ChatSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeExpired,
    @Inject(LOGGER) logger: Logger,
    @Inject(ChatConfig) config: ChatConfig,
  ) {
    super(logger, config.CHAT_SWEEP_INTERVAL_MS, 'chat history sweep');
  }

  protected run(): Promise<number> {
    return this.purge.due();
  }
}

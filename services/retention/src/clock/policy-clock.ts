import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { RetentionConfig } from '../config.js';
import { FireDueItems } from './fire-due-items.usecase.js';

/**
 * The policy clock's tick: every RETENTION_TICK_MS, fire what is due (FireDueItems). On
 * shutdown the pass in progress finishes its current batch and stops; a batch cut short by
 * a crash rolls back and fires on the next pass, of this or another instance.
 */
@Injectable()
export class PolicyClock extends PeriodicSweeper implements BeforeApplicationShutdown {
  private stopping = false;
  private current: Promise<number> | undefined;

  constructor(
    private readonly fire: FireDueItems,
    @Inject(LOGGER) logger: Logger,
    @Inject(RetentionConfig) config: RetentionConfig,
  ) {
    super(logger, config.RETENTION_TICK_MS, 'policy clock');
  }

  protected run(): Promise<number> {
    if (this.stopping) return Promise.resolve(0);
    this.current = this.fire.execute(() => !this.stopping).finally(() => (this.current = undefined));
    return this.current;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.current?.catch(() => undefined);
  }
}

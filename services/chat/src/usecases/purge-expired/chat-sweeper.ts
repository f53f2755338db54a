import { Inject, Injectable } from '@nestjs/common';
import { ServiceMetrics, type Logger } from '@homiwork/observability';
import { LegalHoldsUnknown, LOGGER, PeriodicSweeper, registerPurgeBacklog } from '@homiwork/service-kit';
import { ChatConfig } from '../../config.js';
import { PurgeExpired } from './purge-expired.usecase.js';

/**
 * §5.5 holds while retention's clock is down: chat deletes messages past their retention
 * itself every CHAT_SWEEP_INTERVAL_MS, a grace day after retention's ChatHistoryExpired
 * would have (retention acts first), each deletion confirmed with PurgeCompleted for
 * retention to audit. Each batch first asks retention which of its candidates' owners are
 * under a legal hold and leaves them out; when retention does not answer, the pass stops
 * there and deletes nothing more (fails closed); the next tick tries again.
 */
@Injectable()
export class ChatSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeExpired,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(ChatConfig) config: ChatConfig,
    metrics: ServiceMetrics,
  ) {
    super(log, config.CHAT_SWEEP_INTERVAL_MS, 'chat history sweep');
    registerPurgeBacklog(metrics, log, { chat_message: () => this.purge.backlog() });
  }

  protected async run(): Promise<number> {
    try {
      return await this.purge.due();
    } catch (error) {
      if (!(error instanceof LegalHoldsUnknown)) throw error;
      this.log.warn({ err: error }, 'legal holds unknown (retention did not answer): the chat history sweep skips this round');
      return 0;
    }
  }
}

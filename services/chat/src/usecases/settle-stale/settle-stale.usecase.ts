import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { GenerationFinishedV1 } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { ChatConfig } from '../../config.js';
import { MessagesRepository } from '../../persistence/messages.repository.js';

/** User messages settled per transaction. */
export const SETTLE_BATCH_SIZE = 500;

/**
 * The net under SendMessage: a send that died between reserving energy and settling it
 * (chat stopped, a transaction failed) leaves its user message unsettled. Once it is older
 * than CHAT_SETTLE_AFTER_MS — past the longest a live send can still settle it — it gets
 * GenerationFinished(failed) and is marked settled, in one transaction. Billing treats a
 * failed outcome idempotently: it refunds a held reservation, voids a missing one, leaves a
 * committed one alone — so a duplicate or late refund is harmless. The message itself stays
 * (`unanswered`). A live send that finds its message settled here commits nothing.
 *
 * No tombstone guard per user: the rows are locked by this transaction, and purging a user
 * deletes them first, so a row found here belongs to a user not purged.
 */
@Injectable()
export class SettleStale {
  constructor(
    private readonly transactor: Transactor,
    private readonly messages: MessagesRepository,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(ChatConfig) private readonly config: ChatConfig,
  ) {}

  async execute(batchSize = SETTLE_BATCH_SIZE): Promise<number> {
    if (!this.config.CHAT_CHARGE_ENERGY) return 0;
    let total = 0;
    for (;;) {
      const settled = await this.transactor.run(async () => {
        const now = this.clock.now();
        const stale = await this.messages.settleStale(new Date(now.getTime() - this.config.CHAT_SETTLE_AFTER_MS), now, batchSize);
        for (const { id, userId } of stale) {
          await this.outbox.append(GenerationFinishedV1, { userId, jobId: id, purpose: 'chat', outcome: 'failed', finishedAt: now.toISOString() });
        }
        return stale.length;
      });
      total += settled;
      if (settled < batchSize) return total;
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { LegalHolds } from '@homiwork/service-kit';
import { BillingConfig } from '../../config.js';
import { OrdersRepository } from '../../persistence/orders.repository.js';
import { WebhookEventsRepository } from '../../persistence/webhook-events.repository.js';

const BATCH = 1_000;

/**
 * §5.7: transaction records are kept for TRANSACTION_RETENTION_YEARS after creation or
 * payment (`retain_until`), then deleted — linked or not. An order that ended without
 * being paid (cancelled, failed, lapsed, closed at erasure) records no transaction: it goes
 * UNPAID_ORDER_RETENTION_DAYS after it ended (long enough to answer the buyer and a late
 * processor notification). Remembered webhook event ids go after
 * WEBHOOK_EVENT_RETENTION_DAYS (processors stop retrying long before). Billing acts on
 * its own here (the schedule's `actsFirst: 'service'`: the records never leave its schema)
 * and retention audits; but the orders of a user under a legal hold (§12.2) stay: each
 * batch asks retention about its candidates' owners first (LegalHolds.sweep), and deletes
 * only unlinked orders and those of owners under no hold. One pass; each batch is one
 * statement, so no transaction of its own.
 */
@Injectable()
export class PurgeTransactionRecords {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly webhookEvents: WebhookEventsRepository,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /**
   * Returns how many orders were deleted. `holds`: retention, asked per batch. Throws
   * LegalHoldsUnknown when it does not answer (the batches done stay done, nothing more is
   * deleted, the webhook ids are left for the next pass).
   */
  async execute(holds: LegalHolds): Promise<number> {
    const now = this.clock.now();
    let deleted = await holds.sweep({
      batchSize: BATCH,
      candidates: (heldSoFar) => this.orders.purgeCandidates({ retained: now }, BATCH, heldSoFar),
      purge: async (cleared) => {
        const count = await this.orders.deleteRetainedBefore(now, BATCH, cleared);
        return { count, seen: count };
      },
    });
    const unpaidEndedBefore = addDays(now, -this.config.UNPAID_ORDER_RETENTION_DAYS);
    deleted += await holds.sweep({
      batchSize: BATCH,
      candidates: (heldSoFar) => this.orders.purgeCandidates({ unpaidEnded: unpaidEndedBefore }, BATCH, heldSoFar),
      purge: async (cleared) => {
        const count = await this.orders.deleteUnpaidEndedBefore(unpaidEndedBefore, BATCH, cleared);
        return { count, seen: count };
      },
    });
    await this.webhookEvents.deleteReceivedBefore(addDays(now, -this.config.WEBHOOK_EVENT_RETENTION_DAYS));
    return deleted;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
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
 * and retention audits; but the orders of a user under a legal hold (§12.2), asked of
 * retention just before, stay. One pass; each batch is one statement, so no transaction
 * of its own.
 */
@Injectable()
export class PurgeTransactionRecords {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly webhookEvents: WebhookEventsRepository,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** Returns how many orders were deleted. `heldUserIds`: the users under a legal hold now. */
  async execute(heldUserIds: readonly string[]): Promise<number> {
    const now = this.clock.now();
    let deleted = 0;
    for (;;) {
      const count = await this.orders.deleteRetainedBefore(now, BATCH, heldUserIds);
      deleted += count;
      if (count < BATCH) break;
    }
    const unpaidEndedBefore = addDays(now, -this.config.UNPAID_ORDER_RETENTION_DAYS);
    for (;;) {
      const count = await this.orders.deleteUnpaidEndedBefore(unpaidEndedBefore, BATCH, heldUserIds);
      deleted += count;
      if (count < BATCH) break;
    }
    await this.webhookEvents.deleteReceivedBefore(addDays(now, -this.config.WEBHOOK_EVENT_RETENTION_DAYS));
    return deleted;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { BillingMetrics } from '../../billing-metrics.js';
import { BillingConfig } from '../../config.js';
import { OrdersRepository } from '../../persistence/orders.repository.js';

const BATCH = 1_000;
const HOUR_MS = 3_600_000;

/** The moment before which a pending order has lapsed. */
export function pendingCutoff(now: Date, config: Pick<BillingConfig, 'PENDING_ORDER_TTL_HOURS'>): Date {
  return new Date(now.getTime() - config.PENDING_ORDER_TTL_HOURS * HOUR_MS);
}

/**
 * An order not paid within PENDING_ORDER_TTL_HOURS is cancelled: it stops counting toward
 * the buyer's open orders and is no longer answered again, and, never paid, it is deleted
 * UNPAID_ORDER_RETENTION_DAYS later (PurgeTransactionRecords). A success the processor
 * reports afterwards still pays it (the money was taken; see ReceiveWebhook). One pass;
 * each batch is one statement, so no transaction of its own.
 */
@Injectable()
export class ExpirePendingOrders {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly metrics: BillingMetrics,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** Returns how many orders lapsed. */
  async execute(): Promise<number> {
    const now = this.clock.now();
    const cutoff = pendingCutoff(now, this.config);
    let expired = 0;
    for (;;) {
      const kinds = await this.orders.cancelPendingPlacedBefore(cutoff, now, { limit: BATCH });
      for (const kind of kinds) this.metrics.orders.inc({ kind, outcome: 'expired' });
      expired += kinds.length;
      if (kinds.length < BATCH) break;
    }
    return expired;
  }
}

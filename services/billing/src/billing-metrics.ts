import { Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { ServiceMetrics } from '@homiwork/observability';

/** signup and purchase grant energy, reservation spends it, refund gives a failed job's back. */
export const ENERGY_REASONS = ['signup', 'purchase', 'reservation', 'refund'] as const;

/**
 * The energy flow and payments (R9.1), for the dashboards: labels are fixed vocabularies
 * (purpose, reason, outcome, provider name from config) — never a user, order or amount.
 */
@Injectable()
export class BillingMetrics {
  readonly reservations: Counter<'purpose' | 'outcome'>;
  readonly energy: Counter<'reason'>;
  readonly webhooks: Counter<'provider' | 'outcome'>;
  readonly orders: Counter<'kind' | 'outcome'>;
  readonly primeChanges: Counter<'active'>;

  constructor(metrics: ServiceMetrics) {
    this.reservations = metrics.counter({ name: 'billing_reservations_total', help: 'Energy reservations by purpose and outcome (reserved, replayed, insufficient, refused)', labelNames: ['purpose', 'outcome'] as const });
    this.energy = metrics.counter({ name: 'billing_energy_total', help: 'Energy moved through the ledger, by reason (signup, reservation, refund, purchase)', labelNames: ['reason'] as const });
    this.webhooks = metrics.counter({ name: 'billing_webhooks_total', help: 'Payment webhooks by provider and outcome (applied, replayed, card_data, bad_signature, invalid, unknown_provider)', labelNames: ['provider', 'outcome'] as const });
    this.orders = metrics.counter({ name: 'billing_orders_total', help: 'Orders by product kind and outcome (created, answered_again, too_many_open, in_progress, processor_unavailable, paid, cancelled, failed, expired)', labelNames: ['kind', 'outcome'] as const });
    this.primeChanges = metrics.counter({ name: 'billing_prime_changes_total', help: 'PrimeStatusChanged announcements by active', labelNames: ['active'] as const });
    // Every way energy moves has its series from start-up: the board's rates show 0, not "no data".
    for (const reason of ENERGY_REASONS) this.energy.inc({ reason }, 0);
  }
}

import { Injectable } from '@nestjs/common';
import type { Counter, Gauge } from 'prom-client';
import { ServiceMetrics } from '@homiwork/observability';

export const ERASURE_STATES = ['on_time', 'overdue', 'held'] as const;
/** The purges data-owning services make on their own schedule (their safety-net sweeps). */
const SAFETY_NET_SCOPES = [
  ['media', 'upload'],
  ['generation', 'content'],
  ['chat', 'chat_history'],
  ['identity', 'security_events'],
] as const;

/**
 * Metrics of holds and erasures. Labels are bounded sets: a data-owning service's name,
 * a purge scope, an erasure state — never a user or an erasure id.
 */
@Injectable()
export class ErasureMetrics {
  /** Open erasures by state, read from the database by the audit (every instance agrees). */
  readonly open: Gauge<'state'>;
  /** Purges a service made on its own schedule (PurgeCompleted without a trigger): retention acted late or missed them. */
  readonly safetyNetPurges: Counter<'service' | 'scope'>;
  readonly completed: Counter;
  /** Legal holds not released, read from the database by the audit. */
  readonly holdsActive: Gauge;

  constructor(metrics: ServiceMetrics) {
    this.open = metrics.gauge({ name: 'retention_erasures_open', help: 'Erasures not completed, by state: on_time, overdue (past the deadline), held (a legal hold stands)', labelNames: ['state'] as const });
    // `service` here names the service that purged (it overrides the default label, which would say retention).
    this.safetyNetPurges = metrics.counter({
      name: 'retention_safety_net_purges_total',
      help: "Purges a service made by its own sweep (no trigger): each is one retention's policy clock missed or was late for",
      labelNames: ['service', 'scope'] as const,
    });
    this.completed = metrics.counter({ name: 'retention_erasures_completed_total', help: 'Erasures completed with a signed receipt' });
    this.holdsActive = metrics.gauge({ name: 'retention_legal_holds_active', help: 'Legal holds placed and not released (operator and prohibited-content holds)' });
    // Series at 0 from start-up, so alerts and boards see the first one (the audit sets the real numbers).
    for (const state of ERASURE_STATES) this.open.set({ state }, 0);
    for (const [service, scope] of SAFETY_NET_SCOPES) this.safetyNetPurges.inc({ service, scope }, 0);
  }
}

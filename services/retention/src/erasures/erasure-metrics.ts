import { Injectable } from '@nestjs/common';
import type { Counter, Gauge } from 'prom-client';
import { ServiceMetrics } from '@homiwork/observability';

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

  constructor(metrics: ServiceMetrics) {
    this.open = metrics.gauge({ name: 'retention_erasures_open', help: 'Erasures not completed, by state: on_time, overdue (past the deadline), held (a legal hold stands)', labelNames: ['state'] as const });
    this.safetyNetPurges = metrics.counter({
      name: 'retention_safety_net_purges_total',
      help: "Purges a service made by its own sweep (no trigger): each is one retention's policy clock missed or was late for",
      labelNames: ['service', 'scope'] as const,
    });
    this.completed = metrics.counter({ name: 'retention_erasures_completed_total', help: 'Erasures completed with a signed receipt' });
  }
}

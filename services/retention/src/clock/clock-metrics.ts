import { Inject, Injectable } from '@nestjs/common';
import type { Counter, Gauge } from 'prom-client';
import { Clock } from '@homiwork/clock';
import { ServiceMetrics } from '@homiwork/observability';
import { RetentionConfig } from '../config.js';
import type { DueKind } from './due-dates.js';
import { DueItemsRepository } from './due-items.repository.js';

const DUE_KINDS = ['upload', 'content', 'chat_history', 'inactive_warning', 'inactive_erasure'] as const satisfies readonly DueKind[];

/**
 * The policy clock's metrics. Labels are the bounded kind of due item, never a user or a
 * subject. The overdue gauge is read from the database when scraped, so every instance
 * reports the same shared truth: items due more than one tick ago that have not fired
 * (users under a legal hold wait on purpose and are not counted).
 */
@Injectable()
export class ClockMetrics {
  readonly fired: Counter<'kind'>;
  readonly overdue: Gauge;

  constructor(metrics: ServiceMetrics, items: DueItemsRepository, clock: Clock, @Inject(RetentionConfig) config: RetentionConfig) {
    this.fired = metrics.counter({ name: 'retention_due_items_fired_total', help: 'Due items whose expiry event the policy clock wrote, by kind', labelNames: ['kind'] as const });
    for (const kind of DUE_KINDS) this.fired.inc({ kind }, 0);
    this.overdue = metrics.gauge({
      name: 'retention_due_items_overdue',
      help: 'Due items (of users under no legal hold) due more than one tick ago and not fired yet, read from the database',
      async collect() {
        try {
          this.set(await items.countOverdue(new Date(clock.nowMs() - config.RETENTION_TICK_MS)));
        } catch {
          // The database is away: the scrape keeps the last value rather than failing; the readiness check reports the database.
        }
      },
    });
  }

  countFired(kind: DueKind, n: number): void {
    if (n > 0) this.fired.inc({ kind }, n);
  }
}

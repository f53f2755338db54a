import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { ErasureMetrics } from '../../erasure-metrics.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';
import { LegalHoldsRepository } from '../../persistence/legal-holds.repository.js';

/**
 * R7.4: open erasures by state into `retention_erasures_open{state}` and legal holds in
 * force into `retention_legal_holds_active` — counted in the database, so every instance
 * reports the same numbers — and one log line (the id only) per erasure this instance
 * sees overdue for the first time.
 */
@Injectable()
export class AuditErasures {
  private readonly reported = new Set<string>();

  constructor(
    private readonly erasures: ErasuresRepository,
    private readonly holds: LegalHoldsRepository,
    private readonly metrics: ErasureMetrics,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Returns how many erasures became overdue since the last pass. */
  async execute(): Promise<number> {
    const now = this.clock.now();
    const counts = await this.erasures.openCounts(now);
    this.metrics.open.set({ state: 'on_time' }, counts.onTime);
    this.metrics.open.set({ state: 'overdue' }, counts.overdue);
    this.metrics.open.set({ state: 'held' }, counts.held);
    this.metrics.holdsActive.set(await this.holds.countActive());
    const overdue = await this.erasures.overdueIds(now);
    let fresh = 0;
    for (const erasureId of overdue) {
      if (this.reported.has(erasureId)) continue;
      this.reported.add(erasureId);
      fresh++;
      this.logger.warn({ erasureId }, 'erasure overdue: not every service has confirmed its purge within the deadline');
    }
    // Forget the ones no longer overdue (completed), so the set stays as small as the backlog.
    const current = new Set(overdue);
    for (const erasureId of this.reported) if (!current.has(erasureId)) this.reported.delete(erasureId);
    return fresh;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { RetentionRpc } from '@homiwork/contracts';
import { ServiceMetrics } from '@homiwork/observability';
import { Transactor } from '@homiwork/persistence';
import type { Gauge } from 'prom-client';
import { PrivacyRequestsRepository } from '../../persistence/privacy-requests.repository.js';

/**
 * One pass of the requests' audit: erasure requests whose erasure completed (receipt
 * signed) are completed with outcome `erased`, open requests of an erased user are
 * closed (PrivacyRequestsRepository.closeOrphaned), and the gauge
 * `retention_privacy_requests_open{type, state="on_time"|"overdue"}` is set from the
 * database (every type and state, zeros included, so a cleared alert clears).
 */
@Injectable()
export class AuditPrivacyRequests {
  private readonly open: Gauge<'type' | 'state'>;

  constructor(
    private readonly transactor: Transactor,
    private readonly requests: PrivacyRequestsRepository,
    @Inject(Clock) private readonly clock: Clock,
    metrics: ServiceMetrics,
  ) {
    this.open = metrics.gauge({
      name: 'retention_privacy_requests_open',
      help: 'Privacy requests not yet final, by type and whether past their legal due date (a restriction or objection in force counts as on time)',
      labelNames: ['type', 'state'] as const,
    });
    for (const type of RetentionRpc.PrivacyRequestType.options) for (const state of ['on_time', 'overdue']) this.open.set({ type, state }, 0);
  }

  /** Returns how many requests it completed or closed. */
  async run(): Promise<number> {
    const now = this.clock.now();
    const completed = await this.transactor.run(async () => (await this.requests.completeErased(now)) + (await this.requests.closeOrphaned(now)));
    const counts = await this.requests.countOpen(now);
    for (const type of RetentionRpc.PrivacyRequestType.options) {
      for (const overdue of [false, true]) {
        const found = counts.find((count) => count.type === type && count.overdue === overdue);
        this.open.set({ type, state: overdue ? 'overdue' : 'on_time' }, found?.count ?? 0);
      }
    }
    return completed;
  }
}

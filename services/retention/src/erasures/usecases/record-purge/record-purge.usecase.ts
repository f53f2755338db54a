import { Inject, Injectable } from '@nestjs/common';
import { ERASURE_DEADLINE_HOURS, PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import { Transactor } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { RetentionConfig } from '../../../config.js';
import { deadlineOf, REASON_NOT_YET_KNOWN } from '../../domain/erasure-view.js';
import { ErasureMetrics } from '../../erasure-metrics.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';
import { ReceiptAuditRepository } from '../../persistence/receipt-audit.repository.js';
import { CompleteErasure } from '../complete-erasure/complete-erasure.usecase.js';

/**
 * PurgeCompleted, two kinds:
 * - **an erasure's receipt** (scope `user`, an erasureId): the service's time and counts
 *   are recorded — the first receipt of each service wins, a duplicate or a late one
 *   changes nothing — and the erasure completes when every expected service has confirmed.
 *   A receipt arriving before its ErasureRequested (another subject, another order)
 *   creates the erasure row, to be filled in when the request arrives; it cannot complete
 *   before that.
 * - **a service's own scheduled purge** (no trigger): counted per service, scope and day
 *   in `receipt_audit` and in `retention_safety_net_purges_total` — retention's clock should
 *   have acted first, so each one is a miss or a late fire.
 * Purges answering an expiry event (a trigger, no erasure) need nothing more.
 */
@Injectable()
export class RecordPurge {
  constructor(
    private readonly transactor: Transactor,
    private readonly erasures: ErasuresRepository,
    private readonly audit: ReceiptAuditRepository,
    private readonly complete: CompleteErasure,
    private readonly metrics: ErasureMetrics,
    @Inject(RetentionConfig) private readonly config: RetentionConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  execute(purge: EventPayload<typeof PurgeCompletedV1>): Promise<void> {
    if (purge.trigger === null) return this.countSafetyNetPurge(purge);
    if (purge.scope !== 'user' || purge.erasureId === null) return Promise.resolve();
    return this.recordReceipt(purge.erasureId, purge);
  }

  private async countSafetyNetPurge(purge: EventPayload<typeof PurgeCompletedV1>): Promise<void> {
    await this.audit.count(purge.service, purge.scope, new Date(purge.purgedAt));
    this.metrics.safetyNetPurges.inc({ service: purge.service, scope: purge.scope });
  }

  private recordReceipt(erasureId: string, purge: EventPayload<typeof PurgeCompletedV1>): Promise<void> {
    return this.transactor.run(async () => {
      const purgedAt = new Date(purge.purgedAt);
      // First sight of this erasure: open its row now (deadline counted from this receipt until the request says better).
      await this.erasures.insert({
        id: erasureId,
        userId: purge.userId,
        reason: REASON_NOT_YET_KNOWN,
        status: 'in_progress',
        requestedAt: purgedAt,
        approvedAt: null,
        deadlineAt: deadlineOf(purgedAt, ERASURE_DEADLINE_HOURS),
        expectedServices: this.config.ERASURE_SERVICES,
      });
      const erasure = await this.erasures.findForUpdate(erasureId);
      if (!erasure || erasure.status === 'completed') return;
      if (!erasure.expectedServices.includes(purge.service)) {
        this.logger.warn({ erasureId, service: purge.service }, 'a receipt from a service this erasure does not expect; ignored');
        return;
      }
      const recorded = await this.erasures.addReceipt(erasureId, { service: purge.service, purgedAt, counts: purge.counts });
      if (recorded) await this.complete.ifConfirmed(erasureId);
    });
  }
}

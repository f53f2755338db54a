import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { erasureView, missingServices } from '../../domain/erasure-view.js';
import { ReceiptKeys } from '../../domain/receipt-keys.js';
import { ErasureMetrics } from '../../erasure-metrics.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';
import { LegalHoldsRepository } from '../../persistence/legal-holds.repository.js';

/**
 * R7.4: once every expected service has confirmed, the erasure is completed — status
 * `completed`, `completed_at`, the user id dropped (the receipt proves the purge by its
 * opaque id alone) and the receipt signed: a compact JWS (EdDSA, Ed25519) whose payload is
 * exactly the ErasureView GET /v1/privacy/erasures/:id serves, without `jws`. The reasons of
 * the user's legal holds (an operator's free text, which may describe the person) are
 * replaced by REDACTED_HOLD_REASON; each hold's source, times and who placed and released
 * it stay as the record of why data was kept.
 * Runs inside the caller's transaction; locks the erasure row.
 */
@Injectable()
export class CompleteErasure {
  constructor(
    private readonly erasures: ErasuresRepository,
    private readonly holds: LegalHoldsRepository,
    private readonly keys: ReceiptKeys,
    private readonly metrics: ErasureMetrics,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** Completes the erasure if it is approved and every expected receipt is in; returns whether it did. */
  async ifConfirmed(erasureId: string): Promise<boolean> {
    const erasure = await this.erasures.findForUpdate(erasureId);
    if (!erasure || erasure.status !== 'in_progress' || erasure.approvedAt === null) return false;
    if (missingServices(erasure).length > 0) return false;
    const now = this.clock.now();
    const payload = JSON.stringify(erasureView({ ...erasure, status: 'completed', completedAt: now, userId: null }, now));
    await this.erasures.complete(erasureId, now, this.keys.signCompact(payload));
    if (erasure.userId) await this.holds.redactReasons(erasure.userId);
    this.metrics.completed.inc();
    return true;
  }
}

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import { PrivacyRequestsRepository } from '../../../requests/persistence/privacy-requests.repository.js';
import type { CollectedSlice } from './slice-collector.js';

/**
 * Retention's own slice of the user: their privacy requests with each status change
 * (consent withdrawals and opt-outs of sale included — how they are "in the export"), and
 * the deletions the policy clock has scheduled for their data (kind, item, due date).
 * Not included: legal holds (the operator's legal record, which must not tip off the subject
 * of an investigation, §12.2), erasures (none exists for a living account) and the export
 * archives themselves.
 */
@Injectable()
export class RetentionSlice {
  constructor(
    private readonly requests: PrivacyRequestsRepository,
    private readonly db: Database,
  ) {}

  async collect(userId: string): Promise<CollectedSlice> {
    const requests = await this.requests.exportOfUser(userId);
    const scheduled = await this.db.query<Array<{ kind: string; subject_id: string; basis_at: Date; due_at: Date | null }>>(
      'SELECT kind, subject_id, basis_at, due_at FROM due_items WHERE user_id = $1 ORDER BY due_at NULLS LAST, kind, subject_id',
      [userId],
    );
    return {
      service: 'retention',
      collections: {
        privacy_requests: requests.map((request) => ({
          id: request.id,
          type: request.type,
          regime: request.regime,
          status: request.status,
          createdAt: request.createdAt.toISOString(),
          dueAt: request.dueAt.toISOString(),
          completedAt: request.completedAt?.toISOString() ?? null,
          outcome: request.outcome,
          erasureId: request.erasureId,
          history: request.history.map((change) => ({ status: change.status, at: change.at.toISOString() })),
        })),
        scheduled_deletions: scheduled.map((item) => ({ kind: item.kind, itemId: item.subject_id, countedFrom: item.basis_at.toISOString(), dueAt: item.due_at?.toISOString() ?? null })),
      },
      files: [],
    };
  }
}

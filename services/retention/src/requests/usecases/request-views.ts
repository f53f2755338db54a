import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { RetentionRpc } from '@homiwork/contracts';
import { ExportLinks } from '../../exports/export-links.js';
import { isOverdue } from '../domain/privacy-request.js';
import type { PrivacyRequestRecord } from '../persistence/privacy-requests.repository.js';

type View = RetentionRpc.PrivacyRequestView;
type AdminView = Omit<View, 'downloadUrl' | 'downloadExpiresAt'> & { userId: string | null; overdue: boolean };

/** A request as its user sees it (with the export's live link) and as operators see it (with the user and the overdue flag, no link). */
@Injectable()
export class RequestViews {
  constructor(
    private readonly links: ExportLinks,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async forUser(record: PrivacyRequestRecord): Promise<View> {
    const view = base(record);
    if (record.exportId && record.userId && record.status === 'completed') {
      const link = await this.links.linkOf(record.userId, record.exportId);
      if (link) return { ...view, downloadUrl: link.url, downloadExpiresAt: link.expiresAt.toISOString() };
    }
    return view;
  }

  forOperator(record: PrivacyRequestRecord): AdminView {
    return { ...base(record), userId: record.userId, overdue: isOverdue(record, this.clock.now()) };
  }
}

function base(record: PrivacyRequestRecord): View {
  return {
    id: record.id,
    type: record.type,
    regime: record.regime,
    status: record.status,
    createdAt: record.createdAt.toISOString(),
    dueAt: record.dueAt.toISOString(),
    ...(record.completedAt ? { completedAt: record.completedAt.toISOString() } : {}),
    ...(record.outcome ? { outcome: record.outcome } : {}),
    ...(record.erasureId ? { erasureId: record.erasureId } : {}),
    history: record.history.map((change) => ({ status: change.status, at: change.at.toISOString() })),
  };
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { RetentionRpc, type CallerContext } from '@homiwork/contracts';
import { PrivacyRequestsRepository } from '../../persistence/privacy-requests.repository.js';
import { RequestErrors, requireUser } from '../../request-errors.js';
import { RequestViews } from '../request-views.js';

/** The operators' list is capped: the overdue ones are what needs acting on, and they come first when asked for. */
export const ADMIN_LIST_LIMIT = 1000;

/** The caller's own requests (newest first, with live download links), one of them (404 for another user's), and the operators' list. */
@Injectable()
export class ReadPrivacyRequests {
  constructor(
    private readonly requests: PrivacyRequestsRepository,
    private readonly views: RequestViews,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /**
   * The caller's newest PRIVACY_REQUESTS_PAGE_SIZE requests; `before` (an id of theirs, the
   * last item of the page before) gives the next older ones. An id that is not one of the
   * caller's requests gives an empty page (it says nothing of other users' requests).
   */
  async list(before: string | undefined, caller: CallerContext): Promise<{ items: RetentionRpc.PrivacyRequestView[] }> {
    const userId = requireUser(caller);
    const records = await this.requests.listOfUser(userId, { limit: RetentionRpc.PRIVACY_REQUESTS_PAGE_SIZE, ...(before === undefined ? {} : { before }) });
    return { items: await Promise.all(records.map((record) => this.views.forUser(record))) };
  }

  async get(id: string, caller: CallerContext): Promise<RetentionRpc.PrivacyRequestView> {
    const userId = requireUser(caller);
    const record = await this.requests.find(id);
    if (!record || record.userId !== userId) throw RequestErrors.notFound();
    return this.views.forUser(record);
  }

  /**
   * Operators (checked again here: any service on the bus could call): every request, or
   * with `overdue` those not final and past their legal due date (a restriction or
   * objection in force is carried out, so never overdue). Newest first, at most ADMIN_LIST_LIMIT.
   */
  async adminList(overdue: boolean, caller: CallerContext): Promise<{ items: Array<ReturnType<RequestViews['forOperator']>> }> {
    requireUser(caller);
    if (caller.role !== 'operator') throw RequestErrors.operatorsOnly();
    const records = await this.requests.listAll({ ...(overdue ? { overdueAt: this.clock.now() } : {}), limit: ADMIN_LIST_LIMIT });
    return { items: records.map((record) => this.views.forOperator(record)) };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { ProcessingRestrictionChangedV1, type CallerContext, type RetentionRpc } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { isRestricting } from '../../domain/privacy-request.js';
import { PrivacyRequestsRepository } from '../../persistence/privacy-requests.repository.js';
import { RequestErrors, requireUser } from '../../request-errors.js';
import { RequestViews } from '../request-views.js';

/**
 * A request still waiting for verification is `withdrawn`; a restriction or objection in
 * force is `lifted` (recorded, with its time), and when no other one of the user stays in
 * force ProcessingRestrictionChanged {restricted: false} lets processing resume. Anything
 * else (being carried out, or final) is 409 `not_withdrawable`; another user's is 404.
 * Restriction changes of one user are serialised (an advisory lock), so lifting a
 * restriction and an objection at once still announces the last lift.
 */
@Injectable()
export class WithdrawPrivacyRequest {
  constructor(
    private readonly transactor: Transactor,
    private readonly requests: PrivacyRequestsRepository,
    private readonly outbox: EventsOutbox,
    private readonly views: RequestViews,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<RetentionRpc.PrivacyRequestView> {
    const userId = requireUser(caller);
    await this.transactor.run(async () => {
      const found = await this.requests.find(id);
      if (!found || found.userId !== userId) throw RequestErrors.notFound();
      if (isRestricting(found.type)) await this.requests.lockRestrictionsOf(userId);
      const record = await this.requests.findForUpdate(id);
      const now = this.clock.now();
      if (record?.status === 'awaiting_verification') {
        await this.requests.changeStatus(id, ['awaiting_verification'], 'withdrawn', now, { completedAt: now, outcome: 'withdrawn' });
      } else if (record?.status === 'in_force') {
        await this.requests.changeStatus(id, ['in_force'], 'lifted', now, { completedAt: now, outcome: 'lifted' });
        if (!(await this.requests.otherRestrictionInForce(userId, id))) {
          await this.outbox.append(ProcessingRestrictionChangedV1, { userId, restricted: false, changedAt: now.toISOString() });
        }
      } else {
        throw RequestErrors.notWithdrawable();
      }
    });
    return this.views.forUser((await this.requests.find(id))!);
  }
}

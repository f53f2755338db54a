import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { IdentityRpc, type CallerContext, type RetentionRpc } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { PrivacyRequestsRepository } from '../../persistence/privacy-requests.repository.js';
import { RequestErrors, requireUser } from '../../request-errors.js';
import { RequestViews } from '../request-views.js';

/**
 * An erasure request made without the password is verified with it, as DELETE /v1/me is:
 * identity checks it (401 `invalid_credentials` passes through, the request stays waiting)
 * and starts the erasure; the request moves to `in_progress` with the erasureId. Anything
 * but a waiting erasure request is 409 `not_awaiting_verification`; another user's is 404.
 *
 * The request's row stays locked from the status check through identity's answer to the
 * status change (one transaction), so a withdrawal or a second verification racing this
 * one waits and then finds it moved: the loser answers 409 and never reaches identity — an
 * erasure is never started for a request that ends `withdrawn`. The lock is held for one
 * RPC at most (its timeout bounds it); a wrong password rolls back and changes nothing.
 */
@Injectable()
export class VerifyPrivacyRequest {
  constructor(
    private readonly transactor: Transactor,
    private readonly requests: PrivacyRequestsRepository,
    private readonly rpc: RpcClient,
    private readonly views: RequestViews,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(id: string, password: string, caller: CallerContext): Promise<RetentionRpc.PrivacyRequestView> {
    const userId = requireUser(caller);
    await this.transactor.run(async () => {
      const record = await this.requests.findForUpdate(id);
      if (!record || record.userId !== userId) throw RequestErrors.notFound();
      if (record.type !== 'erasure' || record.status !== 'awaiting_verification') throw RequestErrors.notAwaitingVerification();
      const { erasureId } = await this.rpc.call(IdentityRpc.RequestErasureRoute, { userId, password }, { requestId: caller.requestId, userId });
      if (!(await this.requests.changeStatus(id, ['awaiting_verification'], 'in_progress', this.clock.now(), { erasureId }))) throw RequestErrors.notAwaitingVerification();
    });
    return this.views.forUser((await this.requests.find(id))!);
  }
}

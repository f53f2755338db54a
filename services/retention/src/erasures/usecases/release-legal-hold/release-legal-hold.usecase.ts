import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { ERASURE_DEADLINE_HOURS, ErasureApprovedV1, LegalHoldReleasedV1, RetentionRpc, type CallerContext, type RpcRequest } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { deadlineOf } from '../../domain/erasure-view.js';
import { ErasureErrors, requireOperator } from '../../erasure-errors.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';
import { LegalHoldsRepository } from '../../persistence/legal-holds.repository.js';
import { CompleteErasure } from '../complete-erasure/complete-erasure.usecase.js';

/**
 * An operator releases a hold (only an operator can, §12.2): who and when are recorded,
 * LegalHoldReleased is announced, and — when no other hold of the user stands — every
 * erasure it held back is approved (ErasureApproved, once each), its deadline counted again
 * from the release (it could not proceed while held). The policy clock's held
 * due items fire on its next tick by themselves (it reads the holds table).
 * 404 for an unknown hold and for one already released.
 */
@Injectable()
export class ReleaseLegalHold {
  constructor(
    private readonly transactor: Transactor,
    private readonly holds: LegalHoldsRepository,
    private readonly erasures: ErasuresRepository,
    private readonly complete: CompleteErasure,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(request: RpcRequest<typeof RetentionRpc.ReleaseLegalHoldRoute>, caller: CallerContext): Promise<Record<string, never>> {
    const operatorId = requireOperator(caller);
    return this.transactor.run(async () => {
      const hold = await this.holds.find(request.id);
      if (!hold || hold.releasedAt) throw ErasureErrors.holdNotFound();
      await this.holds.lockUser(hold.userId);
      const now = this.clock.now();
      if (!(await this.holds.release(hold.id, operatorId, now))) throw ErasureErrors.holdNotFound();
      await this.outbox.append(LegalHoldReleasedV1, { holdId: hold.id, userId: hold.userId, releasedAt: now.toISOString() });
      if (await this.holds.hasActive(hold.userId)) return {};
      for (const erasureId of await this.erasures.heldOfUserForUpdate(hold.userId)) {
        await this.erasures.approveHeld(erasureId, now, deadlineOf(now, ERASURE_DEADLINE_HOURS));
        await this.outbox.append(ErasureApprovedV1, { userId: hold.userId, erasureId, approvedAt: now.toISOString() });
        await this.complete.ifConfirmed(erasureId);
      }
      return {};
    });
  }
}

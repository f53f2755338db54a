import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { ERASURE_DEADLINE_HOURS, ErasureApprovedV1, ErasureRequestedV1, type EventPayload } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { RetentionConfig } from '../../../config.js';
import { deadlineOf, isOnlySeenFromReceipts } from '../../domain/erasure-view.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';
import { LegalHoldsRepository } from '../../persistence/legal-holds.repository.js';
import { CompleteErasure } from '../complete-erasure/complete-erasure.usecase.js';
import { ProhibitedContentBarrier } from './prohibited-content-barrier.js';

/**
 * ErasureRequested → the erasure is opened: it expects a PurgeCompleted from every service
 * of ERASURE_SERVICES (the manifest's data-owning services) within ERASURE_DEADLINE_HOURS
 * of the request. A legal hold on the user (§12.2) keeps it `held`, with no approval; else
 * it is `in_progress` and ErasureApproved goes out in the same transaction, on which
 * identity deletes the account. The decision is taken under the user's lock, which placing
 * and releasing a hold take too: a hold placed at the same moment either holds the erasure
 * or comes after its approval, never both.
 *
 * Nothing is decided before every ProhibitedContentDetected that entered the events stream
 * ahead of this ErasureRequested has been applied (ProhibitedContentBarrier): the automatic
 * hold of a user who sends prohibited content and erases the account at once lands before
 * the decision, and holds it. Until then the request is handed back to the consumer to try
 * again shortly (nothing written, nothing approved).
 *
 * A second ErasureRequested of the same erasure changes nothing. One whose erasure was
 * first seen from a receipt (events on different subjects arrive in any order) fills in
 * the request's facts and decides as for a new one.
 */
@Injectable()
export class OpenErasure {
  constructor(
    private readonly transactor: Transactor,
    private readonly erasures: ErasuresRepository,
    private readonly holds: LegalHoldsRepository,
    private readonly complete: CompleteErasure,
    private readonly barrier: ProhibitedContentBarrier,
    private readonly outbox: EventsOutbox,
    @Inject(RetentionConfig) private readonly config: RetentionConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** `streamSequence`: the ErasureRequested's place in the events stream (EventContext.streamSequence). */
  execute(request: EventPayload<typeof ErasureRequestedV1>, streamSequence: number): Promise<void> {
    return this.transactor.run(async () => {
      const { userId, erasureId } = request;
      // Before the user's lock and the look at the holds (each statement of the transaction
      // reads what is committed when it starts, READ COMMITTED): a hold committed by then is seen.
      await this.barrier.awaitAppliedBefore(streamSequence);
      await this.holds.lockUser(userId);
      const now = this.clock.now();
      const held = await this.holds.hasActive(userId);
      const requestedAt = new Date(request.requestedAt);
      const facts = {
        userId,
        reason: request.reason,
        status: held ? ('held' as const) : ('in_progress' as const),
        requestedAt,
        approvedAt: held ? null : now,
        deadlineAt: deadlineOf(requestedAt, ERASURE_DEADLINE_HOURS),
      };
      let existing = await this.erasures.findForUpdate(erasureId);
      // A receipt's placeholder committed between the look and the insert: the insert did nothing, read it again.
      if (!existing && !(await this.erasures.insert({ id: erasureId, ...facts, expectedServices: this.config.ERASURE_SERVICES }))) existing = await this.erasures.findForUpdate(erasureId);
      if (existing) {
        if (!isOnlySeenFromReceipts(existing)) return; // a duplicate: the erasure was opened already
        await this.erasures.fillRequest(erasureId, facts);
      }
      if (held) return;
      await this.outbox.append(ErasureApprovedV1, { userId, erasureId, approvedAt: now.toISOString() });
      await this.complete.ifConfirmed(erasureId);
    });
  }
}

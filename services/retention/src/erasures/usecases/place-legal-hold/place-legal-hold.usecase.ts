import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { LegalHoldPlacedV1, ProhibitedContentDetectedV1, RetentionRpc, type CallerContext, type EventPayload, type RpcRequest } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { requireOperator } from '../../erasure-errors.js';
import { LegalHoldsRepository, type HoldSource } from '../../persistence/legal-holds.repository.js';

/**
 * §12.2, R3.5: a legal hold on a user — nothing of theirs is purged, not by expiry (the
 * policy clock skips them, the services' safety nets ask ActiveHoldsRoute) and not by
 * erasure (an erasure opened while it stands is held, not approved). Placed by an operator,
 * or automatically when moderation reports prohibited content (at most one active
 * automatic hold per user). Recorded with its reason, source, who and when, and announced
 * with LegalHoldPlaced. Taken under the user's lock (see OpenErasure): an erasure approved
 * before the hold goes ahead.
 */
@Injectable()
export class PlaceLegalHold {
  constructor(
    private readonly transactor: Transactor,
    private readonly holds: LegalHoldsRepository,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async byOperator(request: RpcRequest<typeof RetentionRpc.PlaceLegalHoldRoute>, caller: CallerContext): Promise<{ id: string }> {
    const operatorId = requireOperator(caller);
    const id = await this.place({ userId: request.userId, reason: request.reason, source: 'operator', placedBy: operatorId });
    return { id: id! };
  }

  /** The rule's code only is recorded (never the content); nothing if an automatic hold already stands. */
  async onProhibitedContent(detected: EventPayload<typeof ProhibitedContentDetectedV1>): Promise<void> {
    await this.place({ userId: detected.userId, reason: `prohibited content: ${detected.rule}`, source: 'prohibited_content', placedBy: null });
  }

  private place(hold: { userId: string; reason: string; source: HoldSource; placedBy: string | null }): Promise<string | undefined> {
    return this.transactor.run(async () => {
      await this.holds.lockUser(hold.userId);
      if (hold.source === 'prohibited_content' && (await this.holds.hasActive(hold.userId, 'prohibited_content'))) return undefined;
      const id = randomUUID();
      const placedAt = this.clock.now();
      await this.holds.insert({ id, ...hold, placedAt });
      await this.outbox.append(LegalHoldPlacedV1, { holdId: id, userId: hold.userId, placedAt: placedAt.toISOString() });
      return id;
    });
  }
}

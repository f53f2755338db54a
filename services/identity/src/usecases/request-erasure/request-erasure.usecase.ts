import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import { ErasureRequestedV1 } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { ResetTokensRepository } from '../../persistence/reset-tokens.repository.js';
import { SecurityEventsRepository, type OperatorNote, type SecurityEventOrigin } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository, type ErasureReasonValue, type User } from '../../persistence/users.repository.js';

export type ErasureRequestOutcome =
  /** A new erasure was recorded and announced. */
  | { status: 'requested'; erasureId: string }
  /** One was already open: its id, nothing new. */
  | { status: 'pending'; erasureId: string }
  | { status: 'not_found' }
  /** The precondition said no (an inactive user who came back). */
  | { status: 'skipped' };

export interface ErasureRequestOptions {
  origin?: SecurityEventOrigin;
  operator?: OperatorNote;
  /** Checked on the locked row: the erasure goes ahead only when it holds. */
  onlyIf?: (user: User) => boolean;
}

/**
 * Erasure asked for ≠ erased (R1.5, R7.2, §10): every path — the user's DELETE /v1/me, a
 * privacy request, inactivity, an operator — comes here. In one transaction, on the locked
 * account row: an erasure already open is answered as it is (one erasureId per erasure, no
 * second path); otherwise the erasure is recorded, every session and reset link of the
 * account ends, every access token is revoked, and ErasureRequested goes to retention, which
 * approves it unless a legal hold stands (§12.2). Nothing is deleted here: identity deletes
 * the account on ErasureApproved (DeleteAccount.erase).
 *
 * The revocation is written inside the transaction, before the commit, as for a deletion:
 * a request whose revocation failed is not recorded and can be retried. From the commit on,
 * login answers as for an unknown account (LogIn re-reads the locked row before it issues
 * tokens, so a login racing this request cannot slip a session in).
 */
@Injectable()
export class RequestErasure {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly resetTokens: ResetTokensRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly outbox: EventsOutbox,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(userId: string, reason: ErasureReasonValue, options: ErasureRequestOptions = {}): Promise<ErasureRequestOutcome> {
    return this.transactor.run(async (): Promise<ErasureRequestOutcome> => {
      const user = await this.users.findById(userId, { lock: true });
      if (!user) return { status: 'not_found' };
      if (user.erasure) return { status: 'pending', erasureId: user.erasure.id };
      if (options.onlyIf && !options.onlyIf(user)) return { status: 'skipped' };
      const now = this.clock.now();
      const erasureId = randomUUID();
      await this.users.markErasureRequested(userId, { id: erasureId, reason, requestedAt: now });
      await this.sessions.deleteAllForUser(userId);
      await this.resetTokens.deleteAllForUser(userId);
      await this.securityEvents.record({ userId, type: 'erasure_requested', origin: options.origin ?? {}, now, operator: options.operator });
      await this.outbox.append(ErasureRequestedV1, { userId, erasureId, reason, requestedAt: now.toISOString() });
      await this.revocations.revokeUser(userId);
      return { status: 'requested', erasureId };
    });
  }
}

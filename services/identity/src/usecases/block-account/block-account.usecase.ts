import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import { AccountBlockedV1 } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { EventsOutbox } from '@homiwork/messaging';
import { SecurityEventsRepository, type OperatorNote, type SecurityEventOrigin } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository, type BlockReason } from '../../persistence/users.repository.js';

/**
 * §12.2 "immediately block the User's account": no more logins, every session revoked,
 * every access token refused, AccountBlocked announced. Called from an event handler it
 * joins the handler's transaction, so it is applied exactly once.
 */
@Injectable()
export class BlockAccount {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly outbox: EventsOutbox,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** Returns false when the account was already blocked (or does not exist). */
  execute(userId: string, reason: BlockReason, options: { origin?: SecurityEventOrigin; operator?: OperatorNote } = {}): Promise<boolean> {
    return this.transactor.run(async () => {
      const now = this.clock.now();
      if (!(await this.users.block(userId, reason, now))) return false;
      await this.sessions.revokeAllSessions(userId, 'blocked', now);
      await this.securityEvents.record({ userId, type: 'account_blocked', origin: options.origin ?? {}, now, operator: options.operator });
      await this.outbox.append(AccountBlockedV1, { userId, reason, blockedAt: now.toISOString() });
      // Written before the commit on purpose: a blocked user losing access a moment early is
      // harmless; a commit whose revocation was never written would not be.
      await this.revocations.revokeUser(userId);
      return true;
    });
  }
}

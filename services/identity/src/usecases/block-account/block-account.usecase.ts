import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import { AccountBlockedV1 } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * §12.2 "immediately block the User's account": no more logins, every session revoked,
 * every access token refused, AccountBlocked announced. Runs inside the caller's
 * transaction (an event handler's), so it is applied exactly once.
 */
@Injectable()
export class BlockAccount {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly outbox: Outbox,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async within(manager: EntityManager, userId: string, reason: 'prohibited_content' | 'operator'): Promise<boolean> {
    const now = this.clock.now();
    if (!(await this.users.block(manager, userId, reason, now))) return false;
    await this.sessions.revokeAllSessions(manager, userId, 'blocked', now);
    await this.securityEvents.record(manager, { userId, type: 'account_blocked', origin: {}, now });
    await this.outbox.append(manager, AccountBlockedV1, { userId, reason, blockedAt: now.toISOString() });
    // Written before the commit on purpose: a blocked user losing access a moment early is
    // harmless; a commit whose revocation was never written would not be.
    await this.revocations.revokeUser(userId);
    return true;
  }
}

import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, UserDeletedV1, type CallerContext, type ErasureReason, type IdentityRpc, type RpcRequest } from '@homiwork/contracts';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import type { z } from 'zod';
import { EventsOutbox } from '@homiwork/messaging';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { ResetTokensRepository } from '../../persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * R1.5 / §10: irreversible erasure. In one transaction identity records the user's
 * tombstone, makes every access token of the account stop working, deletes the account
 * row (sessions, refresh and reset tokens go by cascade), unlinks its security events, and
 * writes UserDeleted — which every other service purges on — together with its own
 * PurgeCompleted receipt.
 *
 * The revocation is written before the row goes, inside the transaction: revoked after
 * the commit, a deleted account's tokens kept working until that write (and forever, had
 * the process died in between), starting uploads and the like for a user every service
 * was about to purge. If the commit fails after it, the user is only signed out for one
 * access-token lifetime.
 */
@Injectable()
export class DeleteAccount {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly resetTokens: ResetTokensRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly outbox: EventsOutbox,
    private readonly revocations: RevocationWriter,
    private readonly tombstones: UserTombstones,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** The user's own request, re-confirmed with the password. */
  async execute(input: RpcRequest<typeof IdentityRpc.DeleteAccountRoute>, caller: CallerContext): Promise<{ erasureId: string }> {
    if (!caller.userId) throw IdentityErrors.unauthenticated();
    const user = await this.users.findById(caller.userId);
    if (!user) throw IdentityErrors.unauthenticated();
    if (!(await this.hasher.verify(user.passwordHash, input.password))) throw IdentityErrors.invalidCredentials();
    const erasureId = randomUUID();
    // The same request sent twice at once: the second finds the account gone once the
    // first commits, and gets what any request of a deleted account gets.
    if (!(await this.erase(user.id, erasureId, 'user_request', caller))) throw IdentityErrors.unauthenticated();
    return { erasureId };
  }

  /** Also used for erasures started elsewhere (privacy request, inactivity, minor, operator). */
  async erase(userId: string, erasureId: string, reason: z.infer<typeof ErasureReason>, caller: Pick<CallerContext, 'ipHash' | 'userAgent'> = {}): Promise<boolean> {
    return this.transactor.run(() => this.eraseInTransaction(userId, erasureId, reason, caller));
  }

  private async eraseInTransaction(userId: string, erasureId: string, reason: z.infer<typeof ErasureReason>, caller: Pick<CallerContext, 'ipHash' | 'userAgent'>): Promise<boolean> {
    const user = await this.users.findById(userId, { lock: true });
    if (!user) return false;
    const now = this.clock.now();
    await this.tombstones.record(userId, now);
    const { sessions, refreshTokens } = await this.sessions.countForUser(userId);
    const resetTokens = await this.resetTokens.countForUser(userId);
    await this.revocations.revokeUser(userId);
    await this.users.delete(userId);
    const unlinked = await this.securityEvents.pseudonymize(userId);
    await this.securityEvents.record({ userId: null, type: 'account_deleted', origin: caller, now });
    const messageId = await this.outbox.append(UserDeletedV1, { userId, erasureId, reason, deletedAt: now.toISOString() });
    await this.outbox.append(PurgeCompletedV1, {
      service: 'identity',
      userId,
      erasureId,
      scope: 'user',
      scopeId: userId,
      trigger: { type: UserDeletedV1.type, messageId },
      counts: { users: 1, sessions, refresh_tokens: refreshTokens, reset_tokens: resetTokens, security_events_unlinked: unlinked },
      purgedAt: now.toISOString(),
    });
    return true;
  }
}

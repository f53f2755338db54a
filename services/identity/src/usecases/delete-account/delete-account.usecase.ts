import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, UserDeletedV1, type CallerContext, type IdentityRpc, type RpcRequest } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { ResetTokensRepository } from '../../persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository, type User } from '../../persistence/users.repository.js';
import { RequestErasure } from '../request-erasure/request-erasure.usecase.js';

/**
 * R1.5 / §10: the account's deletion, in two steps since a legal hold may stand in the way
 * (§12.2). `execute` (DELETE /v1/me) asks for it: the password re-confirmed, the account is
 * disabled at once and ErasureRequested goes to retention (RequestErasure) — the answer is
 * 202 with the erasureId. `erase` runs on retention's ErasureApproved: irreversible erasure.
 * In one transaction identity records the user's tombstone, makes every access token of the
 * account stop working, deletes the account row (sessions, refresh and reset tokens go by
 * cascade), unlinks its security events, and writes UserDeleted — which every other service
 * purges on — together with its own PurgeCompleted receipt.
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
    private readonly requestErasure: RequestErasure,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * The user's own request, re-confirmed with the password. The same request sent several
   * times at once asks once: the copies that reach identity get the same erasureId (those
   * the gateway already refuses, with the revoked token, get 401).
   */
  async execute(input: RpcRequest<typeof IdentityRpc.DeleteAccountRoute>, caller: CallerContext): Promise<{ erasureId: string }> {
    if (!caller.userId) throw IdentityErrors.unauthenticated();
    const user = await this.users.findById(caller.userId);
    if (!user) throw IdentityErrors.unauthenticated();
    await confirmPasswordForErasure(user, input.password, caller, { securityEvents: this.securityEvents, hasher: this.hasher, clock: this.clock });
    const outcome = await this.requestErasure.execute(user.id, 'user_request', { origin: caller });
    if (outcome.status === 'requested' || outcome.status === 'pending') return { erasureId: outcome.erasureId };
    throw IdentityErrors.unauthenticated();
  }

  /**
   * Retention approved the erasure (ErasureApproved): delete the account. Only the erasure
   * recorded on the account is carried out, with the reason recorded then; an account
   * already gone (a redelivered approval) or with no such erasure open is left alone.
   * Returns whether this call erased the account.
   */
  erase(userId: string, erasureId: string): Promise<boolean> {
    return this.transactor.run(() => this.eraseInTransaction(userId, erasureId));
  }

  private async eraseInTransaction(userId: string, erasureId: string): Promise<boolean> {
    const user = await this.users.findById(userId, { lock: true });
    if (!user) return false;
    if (user.erasure?.id !== erasureId) {
      this.logger.warn({ userId, erasureId, openErasureId: user.erasure?.id ?? null }, 'erasure approval for an erasure not open on the account: ignored');
      return false;
    }
    const { reason } = user.erasure;
    const now = this.clock.now();
    await this.tombstones.record(userId, now);
    const { sessions, refreshTokens } = await this.sessions.countForUser(userId);
    const resetTokens = await this.resetTokens.countForUser(userId);
    await this.revocations.revokeUser(userId);
    await this.users.delete(userId);
    const unlinked = await this.securityEvents.pseudonymize(userId);
    await this.securityEvents.record({ userId: null, type: 'account_deleted', origin: {}, now });
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

/**
 * An erasure asked for by the user (DELETE /v1/me, a privacy request) needs the account's
 * password, with the account's one budget of wrong passwords (shared with login and the
 * email change): a stolen session cannot erase the account, nor guess the password here.
 */
export async function confirmPasswordForErasure(
  user: User,
  password: string,
  caller: Pick<CallerContext, 'ipHash' | 'userAgent'>,
  deps: { securityEvents: SecurityEventsRepository; hasher: PasswordHasher; clock: Clock },
): Promise<void> {
  if (await deps.securityEvents.passwordBudgetSpent(user.id, deps.clock.now())) throw IdentityErrors.tooManyPasswordAttempts(60);
  if (await deps.hasher.verify(user.passwordHash, password)) return;
  await deps.securityEvents.record({ userId: user.id, type: 'erasure_refused', origin: caller, now: deps.clock.now() });
  throw IdentityErrors.invalidCredentials();
}

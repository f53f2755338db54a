import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { MailSender } from '@homiwork/mail';
import type { Logger } from '@homiwork/observability';
import { Transactor } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { ResetTokensRepository } from '../../persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UniqueViolation, UsersRepository, type User } from '../../persistence/users.repository.js';
import { toProfile } from '../profile-view.js';

type Input = RpcRequest<typeof IdentityRpc.UpdateProfileRoute>;

/**
 * R1.4 rectification (§9.1): the user changes email or username. The email is where
 * reset links go, so changing it is taking over the account's recovery: it needs the
 * current password, and then ends every session and outstanding reset link (a stolen
 * session cannot keep itself alive by moving the account to another mailbox), and the
 * old address is told.
 */
@Injectable()
export class UpdateProfile {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly resetTokens: ResetTokensRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly revocations: RevocationWriter,
    private readonly mail: MailSender,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(input: Input, caller: CallerContext): Promise<ReturnType<typeof toProfile>> {
    const userId = caller.userId;
    if (!userId) throw IdentityErrors.unauthenticated();
    const current = await this.users.findById(userId);
    if (!current || current.erasure) throw IdentityErrors.unauthenticated();
    // The route schema already requires currentPassword with an email; a password given
    // with a username change alone is checked too rather than ignored.
    if (input.email !== undefined || input.currentPassword !== undefined) await this.confirmPassword(current, input.currentPassword, caller);
    const emailChanges = input.email !== undefined && input.email.toLowerCase() !== current.email.toLowerCase();

    let updated: User;
    try {
      updated = await this.transactor.run(async () => {
        const updated = await this.users.update(userId, { ...(input.email ? { email: input.email } : {}), ...(input.username ? { username: input.username } : {}) });
        if (!updated) throw IdentityErrors.unauthenticated();
        const now = this.clock.now();
        await this.securityEvents.record({ userId, type: 'profile_changed', origin: caller, now });
        if (!emailChanges) return updated;
        await this.resetTokens.invalidateAll(userId, now);
        // Every session but the caller's ends, and their access tokens stop working before
        // the change commits (a failed revocation rolls the change back).
        await this.revocations.revokeSessions(await this.sessions.revokeAllSessions(userId, 'email_changed', now, { except: caller.sessionId }));
        return updated;
      });
    } catch (error) {
      if (error instanceof UniqueViolation) throw error.field === 'email' ? IdentityErrors.emailTaken() : IdentityErrors.usernameTaken();
      throw error;
    }
    if (emailChanges) await this.notifyOldAddress(current.email, caller);
    return toProfile(updated);
  }

  private async confirmPassword(user: User, password: string | undefined, caller: CallerContext): Promise<void> {
    // The account's one budget of wrong passwords, shared with login under either name.
    if (await this.securityEvents.passwordBudgetSpent(user.id, this.clock.now())) throw IdentityErrors.tooManyPasswordAttempts(60);
    if (password !== undefined && (await this.hasher.verify(user.passwordHash, password))) return;
    await this.securityEvents.record({ userId: user.id, type: 'profile_change_refused', origin: caller, now: this.clock.now() });
    throw IdentityErrors.invalidCredentials();
  }

  /**
   * The change is committed whether or not this mail goes out (the new address already
   * works); a failure is logged without the address and the request still succeeds.
   */
  private async notifyOldAddress(oldEmail: string, caller: CallerContext): Promise<void> {
    try {
      await this.mail.send({
        to: oldEmail,
        subject: 'The email address of your homiwork account was changed',
        text: [
          `The email address of your homiwork account was changed on ${this.clock.now().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
          'From now on, this address no longer receives mail about the account, and every other session was signed out.',
          '',
          'If it was not you, write to support@homiwork.com at once.',
        ].join('\n'),
      });
    } catch (error) {
      this.logger.error({ err: error, requestId: caller.requestId }, 'email change notice failed');
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { ResetTokensRepository } from '../../persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/** A single-use, expiring link sets a new password and ends every session of the account. */
@Injectable()
export class ConfirmPasswordReset {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly resetTokens: ResetTokensRepository,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.PasswordResetConfirmRoute>, caller: CallerContext): Promise<Record<string, never>> {
    if (this.hasher.isCommon(input.password)) throw IdentityErrors.weakPassword();
    const passwordHash = await this.hasher.hash(input.password);
    const revoked = await this.transactor.run(async () => {
      const now = this.clock.now();
      const userId = await this.resetTokens.consume(hashOpaqueToken(input.token), now);
      if (!userId) return undefined;
      await this.users.update(userId, { passwordHash });
      await this.resetTokens.invalidateAll(userId, now);
      await this.securityEvents.record({ userId, type: 'password_reset', origin: caller, now });
      return this.sessions.revokeAllSessions(userId, 'password_reset', now);
    });
    if (!revoked) throw IdentityErrors.invalidResetToken();
    await this.revocations.revokeSessions(revoked);
    return {};
  }
}

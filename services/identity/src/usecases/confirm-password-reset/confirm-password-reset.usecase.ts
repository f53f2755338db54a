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

/**
 * A single-use, expiring link sets a new password and ends every session of the account.
 * The link is looked up first: an invalid one is answered without an Argon2 hash (64 MiB,
 * ~85 ms — no free CPU for whoever posts random tokens), and the password rules need the
 * account's username. A refused password leaves the link usable for a better one.
 */
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
    const tokenHash = hashOpaqueToken(input.token);
    const owner = await this.resetTokens.findLive(tokenHash, this.clock.now());
    const user = owner ? await this.users.findById(owner) : undefined;
    if (!user || user.erasure) throw IdentityErrors.invalidResetToken();
    if (!this.hasher.isAcceptable(input.password, user.username)) throw IdentityErrors.weakPassword();
    const passwordHash = await this.hasher.hash(input.password);
    const revoked = await this.transactor.run(async () => {
      const now = this.clock.now();
      // Used up only now, in one statement: of two confirmations racing with one link, one wins.
      if ((await this.resetTokens.consume(tokenHash, now)) !== user.id) return undefined;
      await this.users.update(user.id, { passwordHash });
      await this.resetTokens.invalidateAll(user.id, now);
      await this.securityEvents.record({ userId: user.id, type: 'password_reset', origin: caller, now });
      return this.sessions.revokeAllSessions(user.id, 'password_reset', now);
    });
    if (!revoked) throw IdentityErrors.invalidResetToken();
    await this.revocations.revokeSessions(revoked);
    return {};
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { IdentityErrors } from '../../identity-errors.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';
import { SessionTokens, type TokenPair } from '../session-tokens.js';

type Outcome = { ok: true; pair: TokenPair } | { ok: false; revokedSession?: string };

/**
 * R1.3: every refresh rotates the token. A token presented a second time means it was
 * stolen or replayed: the whole session (family) is revoked, its access tokens included.
 */
@Injectable()
export class RefreshSession {
  constructor(
    private readonly transactor: Transactor,
    private readonly sessions: SessionsRepository,
    private readonly users: UsersRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly tokens: SessionTokens,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.RefreshRoute>, caller: CallerContext): Promise<TokenPair> {
    const hash = hashOpaqueToken(input.refreshToken);
    // The reuse verdict must be committed even though the caller gets an error, so the
    // transaction returns an outcome instead of throwing.
    const outcome = await this.transactor.run(async (): Promise<Outcome> => {
      const now = this.clock.now();
      const token = await this.sessions.findRefreshToken(hash);
      if (!token) return { ok: false };
      if (token.rotatedAt) {
        await this.sessions.revokeSession(token.sessionId, 'refresh_reuse', now);
        await this.securityEvents.record({ userId: token.userId, type: 'refresh_reuse_detected', origin: caller, now });
        return { ok: false, revokedSession: token.sessionId };
      }
      if (token.sessionRevokedAt || token.expiresAt <= now) return { ok: false };
      const user = await this.users.findById(token.userId);
      if (!user || user.blockedAt || user.erasure) return { ok: false };
      await this.sessions.markRotated(hash, now);
      return { ok: true, pair: await this.tokens.issue({ userId: user.id, sessionId: token.sessionId, role: user.role }) };
    });
    if (outcome.ok) return outcome.pair;
    if (outcome.revokedSession) await this.revocations.revokeSessions([outcome.revokedSession]);
    throw IdentityErrors.invalidRefreshToken();
  }
}

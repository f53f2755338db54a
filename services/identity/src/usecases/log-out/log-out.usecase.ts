import { Inject, Injectable } from '@nestjs/common';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';

/** R1.3 "logout that really ends the session": the refresh family and its live access tokens. */
@Injectable()
export class LogOut {
  constructor(
    private readonly transactor: Transactor,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.LogoutRoute>, caller: CallerContext): Promise<Record<string, never>> {
    const sessionId = await this.transactor.run(async () => {
      const token = await this.sessions.findRefreshToken(hashOpaqueToken(input.refreshToken));
      if (!token) return undefined;
      const now = this.clock.now();
      await this.sessions.revokeSession(token.sessionId, 'logout', now);
      await this.securityEvents.record({ userId: token.userId, type: 'logout', origin: caller, now });
      return token.sessionId;
    });
    if (sessionId) await this.revocations.revokeSessions([sessionId]);
    return {};
  }
}

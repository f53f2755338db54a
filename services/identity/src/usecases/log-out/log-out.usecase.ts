import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';

/** R1.3 "logout that really ends the session": the refresh family and its live access tokens. */
@Injectable()
export class LogOut {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly revocations: RevocationWriter,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.LogoutRoute>, caller: CallerContext): Promise<Record<string, never>> {
    const sessionId = await this.dataSource.transaction(async (manager) => {
      const token = await this.sessions.findRefreshToken(manager, hashOpaqueToken(input.refreshToken));
      if (!token) return undefined;
      const now = this.clock.now();
      await this.sessions.revokeSession(manager, token.session_id, 'logout', now);
      await this.securityEvents.record(manager, { userId: token.user_id, type: 'logout', origin: caller, now });
      return token.session_id;
    });
    if (sessionId) await this.revocations.revokeSessions([sessionId]);
    return {};
  }
}

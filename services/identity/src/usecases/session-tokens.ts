import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AccessTokenIssuer } from '@homiwork/auth';
import { addDays, Clock } from '@homiwork/clock';
import { SERVICE_CONFIG, type ServiceKitOptions } from '@homiwork/service-kit';
import { newOpaqueToken } from '../crypto/opaque-token.js';
import { SessionsRepository } from '../persistence/sessions.repository.js';
import type { IdentityConfig } from '../config.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** Issues the access token and the next refresh token of a session. */
@Injectable()
export class SessionTokens {
  private readonly refreshTtlDays: number;

  constructor(
    private readonly issuer: AccessTokenIssuer,
    private readonly sessions: SessionsRepository,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(SERVICE_CONFIG) options: ServiceKitOptions,
  ) {
    this.refreshTtlDays = (options.config as IdentityConfig).REFRESH_TOKEN_TTL_DAYS;
  }

  async issue(manager: EntityManager, subject: { userId: string; sessionId: string; role: 'user' | 'operator' }): Promise<TokenPair> {
    const now = this.clock.now();
    const refresh = newOpaqueToken();
    await this.sessions.addRefreshToken(manager, { hash: refresh.hash, sessionId: subject.sessionId, now, expiresAt: addDays(now, this.refreshTtlDays) });
    return { accessToken: await this.issuer.issue(subject), refreshToken: refresh.token, expiresIn: this.issuer.expiresIn };
  }
}

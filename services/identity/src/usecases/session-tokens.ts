import { Inject, Injectable } from '@nestjs/common';
import { AccessTokenIssuer } from '@homiwork/auth';
import { addDays, Clock } from '@homiwork/clock';
import { IdentityConfig } from '../config.js';
import { newOpaqueToken } from '../crypto/opaque-token.js';
import { SessionsRepository } from '../persistence/sessions.repository.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** Issues the access token and the next refresh token of a session (inside the caller's transaction). */
@Injectable()
export class SessionTokens {
  constructor(
    private readonly issuer: AccessTokenIssuer,
    private readonly sessions: SessionsRepository,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(IdentityConfig) private readonly config: IdentityConfig,
  ) {}

  async issue(subject: { userId: string; sessionId: string; role: 'user' | 'operator' }): Promise<TokenPair> {
    const now = this.clock.now();
    const refresh = newOpaqueToken();
    await this.sessions.addRefreshToken({ hash: refresh.hash, sessionId: subject.sessionId, now, expiresAt: addDays(now, this.config.REFRESH_TOKEN_TTL_DAYS) });
    return { accessToken: await this.issuer.issue(subject), refreshToken: refresh.token, expiresIn: this.issuer.expiresIn };
  }
}

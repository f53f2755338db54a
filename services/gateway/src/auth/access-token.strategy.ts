import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-custom';
import { AccessTokenVerifier, RevocationMirror, type AccessTokenClaims } from '@homiwork/auth';

/** The name AuthGuard asks passport for. */
export const ACCESS_TOKEN_STRATEGY = 'access-token';

/**
 * Exactly `Bearer <token>` with the token in base64url/JWS characters. Not passport-jwt's
 * `ExtractJwt.fromAuthHeaderAsBearerToken()`: that one splits on any whitespace, takes the
 * scheme in any case ("bearer", "BEARER") and the token as any non-space run, so it
 * accepts headers this edge refuses.
 */
const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

/**
 * The access-token check as a passport strategy: passport-custom calling the existing
 * verifier, because passport-jwt verifies with `jsonwebtoken`, which has no EdDSA
 * (Ed25519). The verifier pins algorithm, `typ`, issuer, audience and expiry and caches
 * each verified token until it expires; revocation (session or account) is checked on
 * every request. Any failure is the same "no user" — the guard answers 401 without
 * saying which check failed.
 */
@Injectable()
export class AccessTokenStrategy extends PassportStrategy(Strategy, ACCESS_TOKEN_STRATEGY) {
  constructor(
    private readonly verifier: AccessTokenVerifier,
    private readonly revocations: RevocationMirror,
  ) {
    super();
  }

  async validate(request: FastifyRequest): Promise<AccessTokenClaims | false> {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (!match) return false;
    const claims = await this.verifier.verify(match[1]!).catch(() => undefined);
    if (!claims || this.revocations.isRevoked(claims)) return false;
    return claims;
  }
}

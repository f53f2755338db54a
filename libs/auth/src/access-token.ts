import { randomUUID } from 'node:crypto';
import { errors as joseErrors, importPKCS8, importSPKI, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { z } from 'zod';
import type { Clock } from '@homiwork/clock';

// Access tokens are short-lived JWTs signed by identity with an Ed25519 key and verified
// by the gateway with the public key alone. Verification pins the algorithm (no `none`,
// no HS256-with-the-public-key confusion), the token type header, issuer, audience and
// expiry; anything else is refused.
const ACCESS_TOKEN_ALGORITHM = 'EdDSA';
const ACCESS_TOKEN_TYPE = 'at+jwt';
const ACCESS_TOKEN_ISSUER = 'homiwork-identity';
const ACCESS_TOKEN_AUDIENCE = 'homiwork-api';

export const AccessTokenClaims = z.object({
  sub: z.uuid(),
  sid: z.uuid(),
  role: z.enum(['user', 'operator']),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.uuid(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaims>;

export class InvalidAccessTokenError extends Error {
  override readonly name = 'InvalidAccessTokenError';
  constructor(readonly reason: 'expired' | 'malformed' | 'signature' | 'claims' | 'revoked') {
    super(`access token rejected: ${reason}`);
  }
}

export class AccessTokenIssuer {
  private constructor(
    private readonly key: CryptoKey,
    private readonly keyId: string,
    private readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {}

  static async fromPem(privateKeyPem: string, options: { keyId: string; ttlSeconds: number; clock: Clock }): Promise<AccessTokenIssuer> {
    return new AccessTokenIssuer(await importPKCS8(privateKeyPem, ACCESS_TOKEN_ALGORITHM), options.keyId, options.ttlSeconds, options.clock);
  }

  get expiresIn(): number {
    return this.ttlSeconds;
  }

  issue(subject: { userId: string; sessionId: string; role: 'user' | 'operator' }): Promise<string> {
    const now = Math.floor(this.clock.nowMs() / 1000);
    return new SignJWT({ sid: subject.sessionId, role: subject.role })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid: this.keyId })
      .setSubject(subject.userId)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key);
  }
}

export class AccessTokenVerifier {
  // A client sends the same token with every request for its few minutes of life; an
  // Ed25519 check costs ~0.2 ms, a map lookup nothing. Only tokens that verified are
  // cached, until their own expiry; revocation is checked by the caller on every request.
  private readonly verified = new Map<string, AccessTokenClaims>();

  private constructor(
    private readonly key: CryptoKey,
    private readonly clock: Clock,
  ) {}

  static async fromPem(publicKeyPem: string, clock: Clock): Promise<AccessTokenVerifier> {
    return new AccessTokenVerifier(await importSPKI(publicKeyPem, ACCESS_TOKEN_ALGORITHM), clock);
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    const known = this.verified.get(token);
    if (known) {
      if (known.exp * 1000 > this.clock.nowMs()) return known;
      this.verified.delete(token);
    }
    const claims = await this.verifyWithKey(token);
    if (this.verified.size >= 50_000) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  private async verifyWithKey(token: string): Promise<AccessTokenClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        typ: ACCESS_TOKEN_TYPE,
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        currentDate: this.clock.now(),
        clockTolerance: 5,
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new InvalidAccessTokenError('expired');
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new InvalidAccessTokenError('signature');
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw new InvalidAccessTokenError('claims');
      throw new InvalidAccessTokenError('malformed');
    }
    const claims = AccessTokenClaims.safeParse(payload);
    if (!claims.success) throw new InvalidAccessTokenError('claims');
    return claims.data;
  }
}

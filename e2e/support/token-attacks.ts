import { createHmac, randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';

/**
 * The Authorization headers the gateway must refuse with 401 on every non-public route.
 * Each differs from a passing request by one thing: the forged ones are signed with the
 * run's real key and carry the victim's real subject and session, and `forgeAccessToken`
 * with no change makes a token the gateway accepts (the suite checks that control), so a
 * guard that skipped one check would let exactly that attack through.
 */
export interface TokenAttack {
  readonly name: string;
  /** The header value; undefined sends no Authorization header. */
  readonly authorization: string | undefined;
}

export interface AttackMaterial {
  /** A valid access token of the victim (the attacks reuse its claims). */
  victimAccessToken: string;
  /** The victim's refresh token of a live session. */
  victimRefreshToken: string;
  /** An access token of a session of the victim that logged out (revoked, not yet expired). */
  loggedOutAccessToken: string;
  /** An access token of an account that was deleted since (not yet expired). */
  deletedAccountAccessToken: string;
  jwtPrivateKeyPem: string;
  jwtPublicKeyPem: string;
}

// What identity puts in every access token (libs/auth/src/access-token.ts); stated here
// again on purpose: a test that imported them would follow a wrong change.
const ALGORITHM = 'EdDSA';
const TYPE = 'at+jwt';
const ISSUER = 'homiwork-identity';
const AUDIENCE = 'homiwork-api';

interface Claims {
  sub: string;
  sid: string;
  role: 'user' | 'operator';
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function claimsOf(token: string): Claims & Record<string, unknown> {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new Error('not a JWS compact token');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims & Record<string, unknown>;
}

/** An access token signed with the run's key; without changes it is one the gateway accepts. */
export async function forgeAccessToken(
  privateKeyPem: string,
  claims: Claims,
  change: { typ?: string; issuer?: string; audience?: string; expiresInSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: claims.sid, role: claims.role })
    .setProtectedHeader({ alg: ALGORITHM, typ: change.typ ?? TYPE })
    .setSubject(claims.sub)
    .setIssuer(change.issuer ?? ISSUER)
    .setAudience(change.audience ?? AUDIENCE)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (change.expiresInSeconds ?? 300))
    .setJti(randomUUID())
    .sign(await importPKCS8(privateKeyPem, ALGORITHM));
}

export async function tokenAttacks(material: AttackMaterial): Promise<TokenAttack[]> {
  const token = material.victimAccessToken;
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = claimsOf(token);
  const forge = (change: Parameters<typeof forgeAccessToken>[2]) => forgeAccessToken(material.jwtPrivateKeyPem, claims, change);
  const bearer = (value: string) => `Bearer ${value}`;

  const noneHeader = b64({ alg: 'none', typ: TYPE });
  const hsHeader = b64({ alg: 'HS256', typ: TYPE });
  const hsSignature = createHmac('sha256', material.jwtPublicKeyPem).update(`${hsHeader}.${payload}`).digest('base64url');
  // Lifted to operator and kept alive for a day, under the original signature.
  const tampered = b64({ ...claims, role: 'operator', exp: Math.floor(Date.now() / 1000) + 86_400 });

  return [
    { name: 'no Authorization header', authorization: undefined },
    { name: 'malformed: the token without a scheme', authorization: token },
    { name: 'malformed: another scheme', authorization: `Basic ${Buffer.from(`user:${token}`).toString('base64')}` },
    { name: 'malformed: Bearer and nothing', authorization: 'Bearer ' },
    { name: 'malformed: not a JWT', authorization: bearer('not-a-jwt') },
    { name: 'malformed: the token with trailing junk', authorization: `${bearer(token)} junk` },
    { name: 'malformed: two parts only', authorization: bearer(`${header}.${payload}`) },
    { name: 'alg none', authorization: bearer(`${noneHeader}.${payload}.`) },
    { name: 'HS256 signed with the public key as secret', authorization: bearer(`${hsHeader}.${payload}.${hsSignature}`) },
    { name: 'tampered payload (role operator, longer life)', authorization: bearer(`${header}.${tampered}.${signature}`) },
    { name: 'expired (real key)', authorization: bearer(await forge({ expiresInSeconds: -120 })) },
    { name: 'wrong audience (real key)', authorization: bearer(await forge({ audience: 'another-api' })) },
    { name: 'wrong issuer (real key)', authorization: bearer(await forge({ issuer: 'someone-else' })) },
    { name: 'wrong typ (real key)', authorization: bearer(await forge({ typ: 'JWT' })) },
    { name: 'token of a deleted account', authorization: bearer(material.deletedAccountAccessToken) },
    { name: 'token of a logged-out session', authorization: bearer(material.loggedOutAccessToken) },
    { name: 'refresh token used as access token', authorization: bearer(material.victimRefreshToken) },
  ];
}

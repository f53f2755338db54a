import { createHmac, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ShiftableClock } from '@homiwork/clock';
import { AccessTokenIssuer, AccessTokenVerifier, InvalidAccessTokenError } from './access-token.js';

const keys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const otherKeys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const subject = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID(), role: 'user' as const };

const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

let clock: ShiftableClock;
let issuer: AccessTokenIssuer;
let verifier: AccessTokenVerifier;
let token: string;

beforeAll(async () => {
  clock = new ShiftableClock();
  issuer = await AccessTokenIssuer.fromPem(keys.privateKey, { keyId: 'k1', ttlSeconds: 300, clock });
  verifier = await AccessTokenVerifier.fromPem(keys.publicKey, clock);
  token = await issuer.issue(subject);
});

async function rejection(candidate: string): Promise<string> {
  const error = await verifier.verify(candidate).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidAccessTokenError);
  return (error as InvalidAccessTokenError).reason;
}

describe('access tokens', () => {
  it('round-trips the subject, session and role', async () => {
    const claims = await verifier.verify(token);
    expect(claims).toMatchObject({ sub: subject.userId, sid: subject.sessionId, role: 'user' });
    expect(claims.exp - claims.iat).toBe(300);
  });

  it('refuses alg none', async () => {
    const [header, payload] = token.split('.');
    const none = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
    expect(header).toBeDefined();
    expect(await rejection(none)).toBe('malformed');
  });

  it('refuses an HS256 token signed with the public key as the secret', async () => {
    const [, payload] = token.split('.');
    const header = b64url({ alg: 'HS256', typ: 'at+jwt' });
    const signature = createHmac('sha256', keys.publicKey).update(`${header}.${payload}`).digest('base64url');
    expect(await rejection(`${header}.${payload}.${signature}`)).toBe('malformed');
  });

  it('refuses a tampered payload', async () => {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${b64url({ ...claims, role: 'operator' })}.${signature}`;
    expect(await rejection(forged)).toBe('signature');
  });

  it('refuses a token signed by another key', async () => {
    const stranger = await AccessTokenIssuer.fromPem(otherKeys.privateKey, { keyId: 'k9', ttlSeconds: 300, clock });
    expect(await rejection(await stranger.issue(subject))).toBe('signature');
  });

  it('refuses an expired token', async () => {
    const shortLived = await AccessTokenIssuer.fromPem(keys.privateKey, { keyId: 'k1', ttlSeconds: 60, clock: new ShiftableClock() });
    const early = await shortLived.issue(subject);
    const later = new ShiftableClock();
    later.advance(120_000);
    const lateVerifier = await AccessTokenVerifier.fromPem(keys.publicKey, later);
    await expect(lateVerifier.verify(early)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('refuses a token for another audience or of another type', async () => {
    const { SignJWT, importPKCS8 } = await import('jose');
    const key = await importPKCS8(keys.privateKey, 'EdDSA');
    const now = Math.floor(Date.now() / 1000);
    const base = () =>
      new SignJWT({ sid: subject.sessionId, role: 'user' }).setSubject(subject.userId).setIssuer('homiwork-identity').setIssuedAt(now).setExpirationTime(now + 60).setJti(crypto.randomUUID());
    const otherAudience = await base().setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' }).setAudience('another-api').sign(key);
    const refreshTyped = await base().setProtectedHeader({ alg: 'EdDSA', typ: 'refresh+jwt' }).setAudience('homiwork-api').sign(key);
    expect(await rejection(otherAudience)).toBe('claims');
    expect(await rejection(refreshTyped)).toBe('claims');
  });

  it('refuses garbage', async () => {
    expect(await rejection('not.a.token')).toBe('malformed');
    expect(await rejection('')).toBe('malformed');
  });

  it('stops accepting a cached token once it expires', async () => {
    const moving = new ShiftableClock();
    const shortLived = await AccessTokenIssuer.fromPem(keys.privateKey, { keyId: 'k1', ttlSeconds: 60, clock: moving });
    const cachingVerifier = await AccessTokenVerifier.fromPem(keys.publicKey, moving);
    const fresh = await shortLived.issue(subject);
    await cachingVerifier.verify(fresh);
    await cachingVerifier.verify(fresh);
    moving.advance(120_000);
    await expect(cachingVerifier.verify(fresh)).rejects.toMatchObject({ reason: 'expired' });
  });
});

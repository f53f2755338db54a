import { createHash, createHmac, randomUUID } from 'node:crypto';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { SignJWT, importPKCS8 } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetMe, UserSeenV1 } from '@homiwork/contracts';
import { eventually, TEST_NATS_URL } from '@homiwork/testing';
import { startTestSystem, type TestSystem } from './support/test-system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '10000' } });
}, 90_000);
afterAll(async () => {
  await system?.stop();
});

const PASSWORD = 'a long and uncommon passphrase';
const account = () => {
  const tag = randomUUID().slice(0, 12);
  return { email: `edge.${tag}@example.com`, username: `edge_${tag}`, password: PASSWORD, ageConfirmed: true as const };
};

describe('no raw IP address anywhere (R2.1)', () => {
  it('stores, logs and sends only the salted hash of a client address', async () => {
    // Unique per run, so a leak cannot hide behind another test's data.
    const address = `198.51.100.${10 + Math.floor(Math.random() * 200)}`;
    const nc: NatsConnection = await connect({ servers: TEST_NATS_URL });
    const seen: string[] = [];
    const tap: Subscription = nc.subscribe('>', {
      callback: (_error, msg) => {
        const headers = [...(msg.headers ?? [])].map(([key, values]) => `${key}: ${values.join(',')}`).join('\n');
        seen.push(`${msg.subject}\n${headers}\n${msg.string()}`);
      },
    });
    const logsBefore = system.logs.length;
    const client = system.api({ headers: { 'x-forwarded-for': address, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36' } });

    const body = account();
    const { user } = await client.accounts.register(body);
    const tokens = await client.accounts.login({ login: body.username, password: PASSWORD });
    await client.accounts.login({ login: body.username, password: 'the wrong passphrase' }).catch(() => undefined);
    const authed = system.api({ token: tokens.accessToken, headers: { 'x-forwarded-for': address } });
    await authed.accounts.me();
    await client.accounts.requestPasswordReset(body.email);
    await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === body.email.toLowerCase()));
    await authed.accounts.deleteMe(PASSWORD);
    await eventually(async () => (await system.sql('SELECT 1 FROM identity.outbox')).length === 0, { what: 'outbox drained' });
    await nc.flush();
    tap.unsubscribe();
    await nc.close();

    // The hash did arrive: security events carry SHA-256(salt ‖ ip), which proves the address was seen and transformed.
    const expectedHash = createHash('sha256').update(system.secrets.IP_HASH_SALT).update(address).digest('hex');
    const hashes = await system.sql<{ ip_hash: string; user_agent: string }>('SELECT DISTINCT ip_hash, user_agent FROM identity.security_events WHERE ip_hash = $1', [expectedHash]);
    expect(hashes.length).toBeGreaterThan(0);
    expect(hashes.map((row) => row.user_agent)).toContain('Chrome on Linux');
    expect(user.id).toBeDefined();

    // Every row of every table of every schema.
    const tables = await system.sql<{ table_schema: string; table_name: string }>(
      "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    );
    expect(tables.length).toBeGreaterThan(5);
    for (const { table_schema, table_name } of tables) {
      const rows = await system.sql<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${table_schema}"."${table_name}" t`);
      for (const { row } of rows) expect(row, `${table_schema}.${table_name}`).not.toContain(address);
    }
    // Every log line written by every service during the test.
    const logs = system.logs.slice(logsBefore);
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(line).not.toContain(address);
    // Every NATS message (subject, headers, payload): requests, replies, events, KV writes.
    expect(seen.length).toBeGreaterThan(5);
    for (const message of seen) expect(message).not.toContain(address);
  });
});

describe('token attacks at the gateway (R1.3)', () => {
  async function statusWith(token: string): Promise<number> {
    return (await system.api({ token }).raw(GetMe)).status;
  }

  it('refuses alg none, HS256 signed with the public key, a tampered payload, an expired token and another audience', async () => {
    const body = account();
    await system.api().accounts.register(body);
    const { accessToken } = await system.api().accounts.login({ login: body.email, password: PASSWORD });
    expect(await statusWith(accessToken)).toBe(200);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

    expect(await statusWith(`${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`)).toBe(401);
    const hsHeader = b64({ alg: 'HS256', typ: 'at+jwt' });
    const hsSignature = createHmac('sha256', system.secrets.JWT_PUBLIC_KEY).update(`${hsHeader}.${payload}`).digest('base64url');
    expect(await statusWith(`${hsHeader}.${payload}.${hsSignature}`)).toBe(401);
    expect(await statusWith(`${header}.${b64({ ...claims, role: 'operator' })}.${signature}`)).toBe(401);

    const key = await importPKCS8(system.secrets.JWT_PRIVATE_KEY, 'EdDSA');
    const now = Math.floor(Date.now() / 1000);
    const forged = (audience: string, exp: number) =>
      new SignJWT({ sid: claims.sid as string, role: 'user' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
        .setSubject(claims.sub as string)
        .setIssuer('homiwork-identity')
        .setAudience(audience)
        .setIssuedAt(now - 3600)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(key);
    expect(await statusWith(await forged('another-api', now + 300))).toBe(401);
    expect(await statusWith(await forged('homiwork-api', now - 60))).toBe(401);
    expect(await statusWith(await forged('homiwork-api', now + 300))).toBe(200); // the control: a well-formed token passes
  });
});

describe('last access (R1.6) and security event retention (R2.3, §5.6)', () => {
  const DAY = 24 * 3600 * 1000;

  /** A valid access token at the moved clock, signed with the run's key (as identity would issue it). */
  async function tokenFor(userId: string, offsetMs: number): Promise<string> {
    const key = await importPKCS8(system.secrets.JWT_PRIVATE_KEY, 'EdDSA');
    const now = Math.floor((Date.now() + offsetMs) / 1000);
    return new SignJWT({ sid: randomUUID(), role: 'user' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(userId)
      .setIssuer('homiwork-identity')
      .setAudience('homiwork-api')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key);
  }

  it('records activity at most once a day per user, however many requests', async () => {
    const { user } = await system.api().accounts.register(account());
    const seenOf = async () => (await system.events(UserSeenV1)).filter((event) => event.userId === user.id);
    const lastSeenOn = async () => (await system.sql<{ day: string }>('SELECT last_seen_on::text AS day FROM identity.users WHERE id = $1', [user.id]))[0]!.day;

    const offset = 3 * DAY;
    await system.setClockOffset(offset);
    const today = new Date(Date.now() + offset).toISOString().slice(0, 10);
    const client = system.api({ token: await tokenFor(user.id, offset) });
    for (let i = 0; i < 5; i++) await client.accounts.me();
    await eventually(async () => (await lastSeenOn()) === today, { what: 'last access recorded' });
    for (let i = 0; i < 5; i++) await client.accounts.me();
    await eventually(async () => (await seenOf()).length === 1, { what: 'one UserSeen for the day' });

    await system.setClockOffset(offset + DAY);
    const nextDay = new Date(Date.now() + offset + DAY).toISOString().slice(0, 10);
    const tomorrow = system.api({ token: await tokenFor(user.id, offset + DAY) });
    for (let i = 0; i < 3; i++) await tomorrow.accounts.me();
    await eventually(async () => (await seenOf()).map((event) => event.seenOn).join() === `${today},${nextDay}`, { what: 'one UserSeen per day' });
  });

  it('deletes security events once they are 12 months old, by a scheduled purge', async () => {
    const body = account();
    const { user } = await system.api().accounts.register(body);
    await system.api().accounts.login({ login: body.email, password: PASSWORD });
    const count = async () => (await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM identity.security_events WHERE user_id = $1', [user.id]))[0]!.n;
    expect(await count()).toBeGreaterThanOrEqual(2);
    await system.setClockOffset(360 * DAY);
    // Still inside 12 months: nothing goes (the purge runs every 200 ms in this suite).
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await count()).toBeGreaterThanOrEqual(2);
    await system.setClockOffset(400 * DAY);
    await eventually(async () => (await count()) === 0, { what: 'security events older than 12 months purged' });
  });
});

describe('log lines of the whole run (R2.4)', () => {
  it('hold no "[secret]": no service logged a secret, and no name of the project’s own was mistaken for one', () => {
    // The start-up lines name migrations and consumers: the names the scrubber once cut out.
    expect(system.logs.some((line) => line.includes('CreateMessagingTables1764200000000'))).toBe(true);
    expect(system.logs.filter((line) => line.includes('[secret]'))).toEqual([]);
  });
});

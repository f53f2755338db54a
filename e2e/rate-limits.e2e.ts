import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetMe, LogIn, UpdateMe } from '@homiwork/contracts';
import { startTestSystem, type TestSystem } from './support/test-system.js';

/** The production default of the auth policy: the 11th attempt in a minute is refused. */
const AUTH_LIMIT = 10;
/** Low enough that a test spends it within a second through both gateways. */
const READ_LIMIT = 400;
let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ gateways: 2, env: { RATE_LIMIT_AUTH_PER_MINUTE: String(AUTH_LIMIT), RATE_LIMIT_READ_PER_MINUTE: String(READ_LIMIT) } });
}, 90_000);
afterAll(async () => {
  await system?.stop();
});

async function attempt(gateway: number, address: string, login: string): Promise<{ status: number; retryAfter: string | null }> {
  const answer = await system.api({ gateway, headers: { 'x-forwarded-for': address } }).raw(LogIn, { body: { login, password: 'some wrong passphrase' } });
  return { status: answer.status, retryAfter: answer.headers.get('retry-after') };
}

/** Windows are fixed minutes: a test that must stay inside one starts early enough in it. */
async function awayFromWindowEnd(seconds: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < seconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 200));
}

describe('rate limits (R2.2)', () => {
  it('are shared by two gateway instances: the limit holds for the sum of both', async () => {
    await awayFromWindowEnd(10);
    const address = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    // Alternate between the two gateways, each time naming a different account.
    for (let i = 0; i < AUTH_LIMIT; i++) statuses.push((await attempt(i % 2, address, `nobody${i}.${randomUUID()}@example.com`)).status);
    expect(statuses.every((status) => status === 401)).toBe(true);
    const refused = await attempt(AUTH_LIMIT % 2, address, `nobody.${randomUUID()}@example.com`);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    // Another address is not affected.
    expect((await attempt(0, '203.0.113.251', `nobody.${randomUUID()}@example.com`)).status).toBe(401);
  });

  it('key an IPv6 client on its /64: new interface ids in one prefix buy no new budget', async () => {
    await awayFromWindowEnd(10);
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    const statuses: number[] = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) statuses.push((await attempt(i % 2, `${prefix}::${(i + 1).toString(16)}`, `v6.${randomUUID()}@example.com`)).status);
    expect(statuses.slice(0, AUTH_LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses[AUTH_LIMIT]).toBe(429);
    // Another /64 is another client.
    expect((await attempt(0, `2001:db8:ffff:${Math.floor(Math.random() * 0xffff).toString(16)}::1`, `v6.${randomUUID()}@example.com`)).status).toBe(401);
  });

  it('also key on the account named in the request, whatever the address', async () => {
    await awayFromWindowEnd(10);
    const login = `target.${randomUUID()}@example.com`;
    const statuses: number[] = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) statuses.push((await attempt(i % 2, `192.0.2.${10 + i}`, login)).status);
    expect(statuses.slice(0, AUTH_LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses[AUTH_LIMIT]).toBe(429);
  });

  it('count a login padded with whitespace or in other case as the same account, as the login schema and identity do', async () => {
    await awayFromWindowEnd(10);
    // 237 characters: padded, over the schema's 254 before trimming and within it after.
    const login = `Padded${'x'.repeat(194)}.${randomUUID()}`;
    const variants = [login, `${' '.repeat(20)}${login}${' '.repeat(20)}`, login.toLowerCase(), `\t${login.toUpperCase()}\n`];
    const statuses: number[] = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) statuses.push((await attempt(i % 2, `192.0.2.${100 + i}`, variants[i % variants.length]!)).status);
    expect(statuses.slice(0, AUTH_LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses[AUTH_LIMIT]).toBe(429);
  });

  it('give one account one budget of wrong passwords, whether it is named by its email or its username', async () => {
    await awayFromWindowEnd(10);
    const tag = randomUUID().slice(0, 8);
    const account = { email: `both.${tag}@example.com`, username: `both_${tag}`, password: 'a long and uncommon passphrase', ageConfirmed: true as const };
    await system.api({ headers: { 'x-forwarded-for': '192.0.2.230' } }).accounts.register(account);
    const { accessToken } = await system.api({ headers: { 'x-forwarded-for': '192.0.2.231' } }).accounts.login({ login: account.email, password: account.password });
    const statuses: number[] = [];
    // Each name stays under the gateway's per-name limit; together they exceed the account's.
    for (let i = 0; i < AUTH_LIMIT; i++) statuses.push((await attempt(i % 2, `198.51.100.${10 + i}`, i % 2 ? account.email : account.username)).status);
    expect(statuses).toEqual(Array<number>(AUTH_LIMIT).fill(401));
    const next = await attempt(0, '198.51.100.99', account.username);
    expect(next.status).toBe(429);
    expect(Number(next.retryAfter)).toBeGreaterThan(0);
    // The right password is refused too until the minute is over (the guesser cannot tell).
    const right = await system.api({ headers: { 'x-forwarded-for': '198.51.100.98' } }).raw(LogIn, { body: { login: account.email, password: account.password } });
    expect(right.status).toBe(429);
    // And a profile change that checks the password shares the same budget.
    const patch = await system.api({ token: accessToken, headers: { 'x-forwarded-for': '198.51.100.97' } }).raw(UpdateMe, { body: { email: `other.${tag}@example.com`, currentPassword: account.password } });
    expect(patch.status).toBe(429);
  });

  it('limit password guesses through PATCH /v1/me like logins: the 11th wrong currentPassword in a minute is 429', async () => {
    await awayFromWindowEnd(10);
    const tag = randomUUID().slice(0, 8);
    const account = { email: `guess.${tag}@example.com`, username: `guess_${tag}`, password: 'a long and uncommon passphrase', ageConfirmed: true as const };
    await system.api({ headers: { 'x-forwarded-for': '192.0.2.200' } }).accounts.register(account);
    const { accessToken } = await system.api({ headers: { 'x-forwarded-for': '192.0.2.201' } }).accounts.login({ login: account.username, password: account.password });
    const statuses: number[] = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) {
      const answer = await system.api({ token: accessToken, gateway: i % 2, headers: { 'x-forwarded-for': `192.0.2.${210 + i}` } }).raw(UpdateMe, { body: { email: `new.${tag}@example.com`, currentPassword: `wrong guess ${i}` } });
      statuses.push(answer.status);
    }
    expect(statuses.slice(0, AUTH_LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses[AUTH_LIMIT]).toBe(429);
  });

  it('refuse the 11th of concurrent login attempts at one account spread over both gateways', async () => {
    await awayFromWindowEnd(10);
    const login = `burst.${randomUUID()}@example.com`;
    const answers = await Promise.all(Array.from({ length: 2 * AUTH_LIMIT }, (_, i) => attempt(i % 2, `198.18.${Math.floor(i / 200)}.${1 + (i % 200)}`, login)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(AUTH_LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(AUTH_LIMIT);
  });

  it('overshoot by at most 10 % when one key is driven hard through both gateways (local counting, reconciled every 100 ms)', async () => {
    const address = `198.19.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const tag = randomUUID().slice(0, 12);
    const password = 'a long and uncommon passphrase';
    const guest = system.api({ headers: { 'x-forwarded-for': address } });
    await guest.accounts.register({ email: `burst.${tag}@example.com`, username: `burst_${tag}`, password, ageConfirmed: true });
    const { accessToken } = await guest.accounts.login({ login: `burst_${tag}`, password });
    const clients = [0, 1].map((gateway) => system.api({ gateway, token: accessToken, headers: { 'x-forwarded-for': address } }));
    await awayFromWindowEnd(20);
    // 16 requests in flight at each gateway, one user from one address (both keys are hot),
    // until three times the limit has been asked for.
    const statuses: Record<number, number> = {};
    let sent = 0;
    await Promise.all(
      Array.from({ length: 32 }, async (_, worker) => {
        while (sent < 3 * READ_LIMIT) {
          sent++;
          const { status } = await clients[worker % 2]!.raw(GetMe);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
    const accepted = statuses[200] ?? 0;
    expect(accepted + (statuses[429] ?? 0)).toBe(3 * READ_LIMIT);
    expect(accepted, `accepted ${accepted} of ${READ_LIMIT}`).toBeGreaterThanOrEqual(READ_LIMIT);
    expect(accepted, `accepted ${accepted} of ${READ_LIMIT}`).toBeLessThanOrEqual(READ_LIMIT * 1.1);
  });
});

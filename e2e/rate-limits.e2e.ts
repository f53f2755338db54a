import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogIn } from '@homiwork/contracts';
import { startTestSystem, type TestSystem } from './support/test-system.js';

const AUTH_LIMIT = 6;
let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ gateways: 2, env: { RATE_LIMIT_AUTH_PER_MINUTE: String(AUTH_LIMIT) } });
}, 90_000);
afterAll(async () => {
  await system?.stop();
});

async function attempt(gateway: number, address: string, login: string): Promise<{ status: number; retryAfter: string | null }> {
  const answer = await system.api({ gateway, headers: { 'x-forwarded-for': address } }).raw(LogIn, { body: { login, password: 'some wrong passphrase' } });
  return { status: answer.status, retryAfter: answer.headers.get('retry-after') };
}

describe('rate limits (R2.2)', () => {
  it('are shared by two gateway instances: the limit holds for the sum of both', async () => {
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

  it('also key on the account named in the request, whatever the address', async () => {
    const login = `target.${randomUUID()}@example.com`;
    const statuses: number[] = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) statuses.push((await attempt(i % 2, `192.0.2.${10 + i}`, login)).status);
    expect(statuses.slice(0, AUTH_LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses[AUTH_LIMIT]).toBe(429);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Clock, ShiftableClock } from '@homiwork/clock';
import { createTestNamespace, eventually, TEST_NATS_URL } from '@homiwork/testing';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpRoute } from '@homiwork/contracts';
import { catalogueViolations, ServiceMetrics } from '@homiwork/observability';
import type { GatewayConfig } from '../src/config.js';
import { NatsKvRateLimiter, SYNC_INTERVAL_MS, type RateDecision } from '../src/rate-limit/nats-kv-rate-limiter.js';
import { RateLimitGuard } from '../src/rate-limit/rate-limit.guard.js';
import { HTTP_ROUTE_METADATA } from '../src/routes/http-route.decorator.js';

let first: NatsConnection;
let second: NatsConnection;
let namespace: string;
const clock = new ShiftableClock();
const opened: NatsKvRateLimiter[] = [];

async function open(nc: NatsConnection, on: Clock = clock, reconcileEvery: 'interval' | 'manual' = 'interval'): Promise<NatsKvRateLimiter> {
  const limiter = await NatsKvRateLimiter.open(nc, namespace, on, { reconcileEvery });
  opened.push(limiter);
  return limiter;
}

/** Time that moves only when the test says so: a loaded machine cannot stretch T between two syncs. */
class StoppedClock extends Clock {
  constructor(private ms: number) {
    super();
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A decision, as a promise whether or not it needed the shared store. */
const hit = (limiter: NatsKvRateLimiter, key: string, limit: number) => Promise.resolve(limiter.hit(key, limit, 60));
const allowed = (decisions: RateDecision[]) => decisions.filter((decision) => decision.allowed).length;

beforeAll(async () => {
  namespace = createTestNamespace();
  first = await connect({ servers: TEST_NATS_URL });
  second = await connect({ servers: TEST_NATS_URL });
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((limiter) => limiter.close()));
});
afterAll(async () => {
  await first.close();
  await second.close();
});

describe('NatsKvRateLimiter (real NATS KV)', () => {
  it('lets many concurrent hits on one key through while under the limit', async () => {
    const limiter = await open(first);
    const decisions = await Promise.all(Array.from({ length: 64 }, () => hit(limiter, 'read.account.a', 1_000)));
    expect(allowed(decisions)).toBe(64);
  });

  it('holds a small limit exactly across two instances hit concurrently', async () => {
    const a = await open(first);
    const b = await open(second);
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => hit(i % 2 === 0 ? a : b, 'auth.ip.x', 10)));
    expect(allowed(decisions)).toBe(10);
    const refused = decisions.find((decision) => !decision.allowed)!;
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('starts a fresh count in the next window', async () => {
    const limiter = await open(first);
    for (let i = 0; i < 3; i++) await limiter.hit('write.ip.y', 3, 60);
    expect((await limiter.hit('write.ip.y', 3, 60)).allowed).toBe(false);
    clock.advance(61_000);
    expect((await limiter.hit('write.ip.y', 3, 60)).allowed).toBe(true);
  });

  it('decides a hit on a known counter without the shared store, and adds the local hits to it within a sync interval', async () => {
    const limiter = await open(first);
    await limiter.hit('read.account.fast', 10_000, 60);
    const decisions = Array.from({ length: 99 }, () => limiter.hit('read.account.fast', 10_000, 60));
    // No promise: decided from the local view.
    expect(decisions.every((decision) => !(decision instanceof Promise) && decision.allowed)).toBe(true);
    const bucket = await new Kvm(first).open(`${namespace.toUpperCase()}_RATE_LIMITS`);
    const window = Math.floor(clock.nowMs() / 60_000);
    // The limiter's own timer adds them (within T on a quiet machine; a loaded one only delays it).
    await eventually(async () => (await bucket.get(`read.account.fast.${window}`))?.string() === '100', { what: 'the local hits in the shared counter' });
  });

  it('learns the other instance’s hits: a limit spent on one instance is refused on the other', async () => {
    const a = await open(first);
    const b = await open(second);
    const spentOnA = await Promise.all(Array.from({ length: 200 }, () => hit(a, 'read.ip.spent', 200)));
    expect(allowed(spentOnA)).toBe(200);
    await a.sync(); // what a's timer does every T; b has no view of the counter yet, so its first hit asks the store
    expect((await b.hit('read.ip.spent', 200, 60)).allowed).toBe(false);
  });

  it('keeps the overshoot of two instances hit at a steady rate within 10 % of the limit', async () => {
    const accepted = await twoInstancesAtSteadyRate('read.ip.steady', { reconcile: true });
    expect(accepted).toBeGreaterThanOrEqual(STEADY_LIMIT);
    // A limiter that stopped syncing would let each instance spend the whole limit (~1,000).
    expect(accepted).toBeLessThanOrEqual(STEADY_LIMIT * 1.1);
  });

  it('holds the limit within 10 % when reconciliation never runs (a stalled timer, a slow store)', async () => {
    const accepted = await twoInstancesAtSteadyRate('read.ip.stalled', { reconcile: false });
    expect(accepted).toBeGreaterThanOrEqual(STEADY_LIMIT * 0.9);
    expect(accepted).toBeLessThanOrEqual(STEADY_LIMIT * 1.1);
  });

  it('holds a small limit spread over four instances within one sync interval to (N−1) × 5 % of it', async () => {
    const time = new StoppedClock(startOfAWindow());
    const instances = await Promise.all([first, second, first, second].map((nc) => open(nc, time, 'manual')));
    const limit = 20;
    // Round-robin, as a load balancer would spread one client's requests; nothing syncs meanwhile.
    const decisions = await Promise.all(Array.from({ length: 80 }, (_, i) => hit(instances[i % 4]!, 'generation.ip.spread', limit)));
    expect(allowed(decisions)).toBeGreaterThanOrEqual(limit);
    expect(allowed(decisions)).toBeLessThanOrEqual(limit + 3 * Math.ceil(limit * 0.05));
  });
});

const STEADY_LIMIT = 500;
const startOfAWindow = () => Math.floor(Date.now() / 60_000) * 60_000 + 1_000;

/**
 * Simulated time against the real store: every 10 ms of it 20 hits shared by two instances
 * (2,000 hits/s) for 750 ms, and every T both reconcile as their timers would — or never.
 * A loaded machine cannot stretch T here (on CI it did, and a wall-clock bound meant nothing).
 */
async function twoInstancesAtSteadyRate(key: string, options: { reconcile: boolean }): Promise<number> {
  const time = new StoppedClock(startOfAWindow());
  const a = await open(first, time, 'manual');
  const b = await open(second, time, 'manual');
  let accepted = 0;
  for (let elapsed = 0; elapsed < 750; elapsed += 10) {
    accepted += allowed(await Promise.all(Array.from({ length: 20 }, (_, i) => hit(i % 2 === 0 ? a : b, key, STEADY_LIMIT))));
    time.advance(10);
    if (options.reconcile && (elapsed + 10) % SYNC_INTERVAL_MS === 0) await Promise.all([a.sync(), b.sync()]);
  }
  return accepted;
}

describe('RateLimitGuard: gateway_rate_limit_rejections_total', () => {
  it('counts each 429 under the route policy whose limit was reached, with every policy at 0 from the start and no key in the labels', async () => {
    const metrics = new ServiceMetrics('gateway-rate-limit-test');
    const config = { IP_HASH_SALT: 'salt-'.repeat(8), RATE_LIMIT_AUTH_PER_MINUTE: 2, RATE_LIMIT_READ_PER_MINUTE: 100, RATE_LIMIT_WRITE_PER_MINUTE: 100, RATE_LIMIT_GENERATION_PER_MINUTE: 100 } as GatewayConfig;
    const guard = new RateLimitGuard(new Reflector(), await open(first), config, metrics);
    const route: Partial<HttpRoute> = { path: '/v1/auth/login', rateLimit: 'auth' };
    const handler = () => undefined;
    Reflect.defineMetadata(HTTP_ROUTE_METADATA, route, handler);
    const ipHash = `ip-${namespace}`;
    const context = {
      getHandler: () => handler,
      switchToHttp: () => ({ getRequest: () => ({ edge: { ipHash }, body: { login: 'alice@example.com', password: 'x' } }) }),
    } as unknown as ExecutionContext;
    const rejections = async (): Promise<Record<string, number>> =>
      Object.fromEntries((await metrics.registry.getSingleMetric('gateway_rate_limit_rejections_total')!.get()).values.map((v) => [String(v.labels.limit), v.value]));

    expect(await rejections()).toEqual({ auth: 0, read: 0, write: 0, generation: 0 });
    expect(await guard.canActivate(context)).toBe(true);
    expect(await guard.canActivate(context)).toBe(true);
    await expect(guard.canActivate(context)).rejects.toMatchObject({ status: 429 });
    expect(await rejections()).toEqual({ auth: 1, read: 0, write: 0, generation: 0 });
    const text = await metrics.metricsText();
    expect(text).not.toContain('alice');
    expect(text).not.toContain(ipHash);
    expect(catalogueViolations(text)).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ShiftableClock } from '@homiwork/clock';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { NatsKvRateLimiter } from '../src/rate-limit/nats-kv-rate-limiter.js';

let first: NatsConnection;
let second: NatsConnection;
let namespace: string;
const clock = new ShiftableClock();

beforeAll(async () => {
  namespace = createTestNamespace();
  first = await connect({ servers: TEST_NATS_URL });
  second = await connect({ servers: TEST_NATS_URL });
});
afterAll(async () => {
  await first.close();
  await second.close();
});

describe('NatsKvRateLimiter (real NATS KV)', () => {
  it('lets many concurrent hits on one key through while under the limit', async () => {
    const limiter = await NatsKvRateLimiter.open(first, namespace, clock);
    const decisions = await Promise.all(Array.from({ length: 64 }, () => limiter.hit('read.account.a', 1_000, 60)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(64);
  });

  it('holds the limit exactly across two instances hit concurrently', async () => {
    const a = await NatsKvRateLimiter.open(first, namespace, clock);
    const b = await NatsKvRateLimiter.open(second, namespace, clock);
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).hit('auth.ip.x', 10, 60)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(10);
    const refused = decisions.find((decision) => !decision.allowed)!;
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('starts a fresh count in the next window', async () => {
    const limiter = await NatsKvRateLimiter.open(first, namespace, clock);
    for (let i = 0; i < 3; i++) await limiter.hit('write.ip.y', 3, 60);
    expect((await limiter.hit('write.ip.y', 3, 60)).allowed).toBe(false);
    clock.advance(61_000);
    expect((await limiter.hit('write.ip.y', 3, 60)).allowed).toBe(true);
  });
});

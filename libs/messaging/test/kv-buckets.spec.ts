import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { kvBuckets, provisionKvBuckets } from '../src/index.js';

let nc: NatsConnection;
const ns = createTestNamespace();
beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
});
afterAll(async () => {
  const jsm = await jetstreamManager(nc);
  for (const bucket of kvBuckets(ns)) await jsm.streams.delete(`KV_${bucket.name}`).catch(() => undefined);
  await nc.close();
});

describe('KV buckets', () => {
  it('are provisioned without direct gets, and an existing bucket that had them loses them (a direct get answers raw bytes to any reply subject)', async () => {
    const [revocations, rateLimits] = kvBuckets(ns);
    // As a bucket from before: created with direct gets on.
    await new Kvm(nc).create(revocations!.name, { ...revocations!.options, allow_direct: true });
    await provisionKvBuckets(nc, kvBuckets(ns));
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(`KV_${revocations!.name}`)).config.allow_direct).toBe(false);
    expect((await jsm.streams.info(`KV_${rateLimits!.name}`)).config.allow_direct).toBe(false);
    // Values still read (by plain message get).
    const kv = await new Kvm(nc).open(rateLimits!.name);
    await kv.put('k', 'v');
    expect((await kv.get('k'))?.string()).toBe('v');
  });
});

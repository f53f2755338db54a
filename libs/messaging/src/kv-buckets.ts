import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { provisionOrExplain } from './provisioning.js';

/** A KV bucket of the system: its name and the settings migrate creates it with. */
export interface KvBucketSpec {
  readonly name: string;
  readonly options: Partial<KvOptions>;
}

/**
 * No direct gets on any bucket: a direct get answers the stored value's raw bytes and
 * headers to whatever reply subject the asker names, and NATS checks only the subject a
 * request is published to. A service that writes a bucket could store an event's bytes and
 * headers and have the server "answer" them onto an event subject — a forged UserDeleted or
 * PurgeCompleted (reproduced on nats-server 2.9.10 by a review). A plain message get wraps
 * the value in a JSON envelope, which no event schema accepts.
 */
const NO_DIRECT_GET = { allow_direct: false } as const;

/** Access tokens live at most this long by default (ACCESS_TOKEN_TTL_SECONDS of identity and the gateway). */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 300;

/**
 * Revocations: identity writes, every gateway watches (libs/auth/src/revocation-list.ts).
 * An entry outlives by a minute every access token it could block.
 */
export const revocationBucket = (ns: string, accessTokenTtlSeconds: number = DEFAULT_ACCESS_TOKEN_TTL_SECONDS): KvBucketSpec => ({
  name: `${ns.toUpperCase()}_REVOCATIONS`,
  options: { ...NO_DIRECT_GET, history: 1, ttl: (accessTokenTtlSeconds + 60) * 1000 },
});

/** The gateway's shared rate-limit counters (services/gateway/src/rate-limit): an hour at most, in memory. */
export const rateLimitBucket = (ns: string): KvBucketSpec => ({
  name: `${ns.toUpperCase()}_RATE_LIMITS`,
  options: { ...NO_DIRECT_GET, history: 1, ttl: 3_600_000, storage: StorageType.Memory },
});

/** Every bucket migrate provisions; on a JetStream cluster with as many replicas as the event streams. */
export const kvBuckets = (ns: string, options: { accessTokenTtlSeconds?: number; replicas?: number } = {}): KvBucketSpec[] =>
  [revocationBucket(ns, options.accessTokenTtlSeconds), rateLimitBucket(ns)].map((bucket) => (options.replicas ? { ...bucket, options: { ...bucket.options, replicas: options.replicas } } : bucket));

/** Creates each bucket that is missing (the migrate tool); an existing one keeps its settings, but direct gets are switched off. */
export async function provisionKvBuckets(nc: NatsConnection, buckets: readonly KvBucketSpec[]): Promise<string[]> {
  const kvm = new Kvm(nc);
  const jsm = await jetstreamManager(nc);
  for (const bucket of buckets) {
    await kvm.create(bucket.name, { ...bucket.options });
    const { config } = await jsm.streams.info(`KV_${bucket.name}`);
    if (config.allow_direct) await jsm.streams.update(config.name, { ...config, allow_direct: false });
  }
  return buckets.map((bucket) => bucket.name);
}

/**
 * Opens a bucket a service uses. It reads the bucket's stream info (which says whether
 * direct gets are on) and binds to it; only when the bucket is missing does it try to
 * create it — allowed on a server without users, refused to a service's user, which
 * fails with "run migrate".
 */
export async function openKvBucket(nc: NatsConnection, bucket: KvBucketSpec): Promise<KV> {
  const kvm = new Kvm(nc);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${bucket.name}`).catch((error: unknown) => {
    if (error instanceof Error && /stream not found/i.test(error.message)) return null;
    throw error;
  });
  if (info) return kvm.open(bucket.name, { allow_direct: info.config.allow_direct === true });
  return provisionOrExplain(`KV bucket ${bucket.name} does not exist`, () => kvm.create(bucket.name, { ...bucket.options }));
}

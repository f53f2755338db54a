import { StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '@homiwork/clock';

export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

/**
 * Fixed-window counters in a NATS KV bucket, shared by every gateway instance (R2.2):
 * create-or-compare-and-set on `<key>.<window>`, so two gateways never double a limit.
 * Over the limit, the counter is only read, so an attack costs no writes. The bucket is
 * in memory with a one-hour age limit: counters are worthless after their window.
 */
export class NatsKvRateLimiter {
  // Hits on one key from this instance are applied one after another: concurrent
  // compare-and-sets on one key would mostly fail against each other (a user with many
  // requests in flight would be refused although under the limit).
  private readonly queues = new Map<string, Promise<unknown>>();
  // The last value and revision this instance wrote per key, so the next hit can try its
  // compare-and-set without reading first; another instance's write just costs a re-read.
  private readonly known = new Map<string, { count: number; revision: number }>();

  constructor(
    private readonly bucket: KV,
    private readonly clock: Clock,
  ) {}

  static async open(nc: NatsConnection, namespace: string, clock: Clock): Promise<NatsKvRateLimiter> {
    const bucket = await new Kvm(nc).create(`${namespace.toUpperCase()}_RATE_LIMITS`, { history: 1, ttl: 3_600_000, storage: StorageType.Memory });
    return new NatsKvRateLimiter(bucket, clock);
  }

  hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const now = this.clock.nowMs();
    const windowMs = windowSeconds * 1000;
    const window = Math.floor(now / windowMs);
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
    const counterKey = `${key}.${window}`;
    const previous = this.queues.get(counterKey) ?? Promise.resolve();
    const decision = previous.then(() => this.count(counterKey, limit, retryAfterSeconds));
    const settled = decision.catch(() => undefined);
    this.queues.set(counterKey, settled);
    void settled.then(() => {
      if (this.queues.get(counterKey) === settled) this.queues.delete(counterKey);
    });
    return decision;
  }

  private async count(counterKey: string, limit: number, retryAfterSeconds: number): Promise<RateDecision> {
    let cached = this.known.get(counterKey);
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        if (!cached) {
          const entry = await this.bucket.get(counterKey);
          if (!entry || entry.operation !== 'PUT') {
            const revision = await this.bucket.create(counterKey, '1');
            this.remember(counterKey, 1, revision);
            return { allowed: limit >= 1, retryAfterSeconds };
          }
          cached = { count: Number(entry.string()), revision: entry.revision };
        }
        if (cached.count >= limit) return { allowed: false, retryAfterSeconds };
        const revision = await this.bucket.update(counterKey, String(cached.count + 1), cached.revision);
        this.remember(counterKey, cached.count + 1, revision);
        return { allowed: true, retryAfterSeconds };
      } catch {
        // Another instance wrote first: read again and retry.
        cached = undefined;
      }
    }
    // Sustained contention on one key across instances is itself a flood: refuse.
    return { allowed: false, retryAfterSeconds };
  }

  private remember(counterKey: string, count: number, revision: number): void {
    // Bounded: only keys of the current windows matter; old ones are dropped wholesale.
    if (this.known.size > 50_000) this.known.clear();
    this.known.set(counterKey, { count, revision });
  }
}

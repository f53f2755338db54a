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
  constructor(
    private readonly bucket: KV,
    private readonly clock: Clock,
  ) {}

  static async open(nc: NatsConnection, namespace: string, clock: Clock): Promise<NatsKvRateLimiter> {
    const bucket = await new Kvm(nc).create(`${namespace.toUpperCase()}_RATE_LIMITS`, { history: 1, ttl: 3_600_000, storage: StorageType.Memory });
    return new NatsKvRateLimiter(bucket, clock);
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const now = this.clock.nowMs();
    const windowMs = windowSeconds * 1000;
    const window = Math.floor(now / windowMs);
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
    const counterKey = `${key}.${window}`;
    for (let attempt = 0; attempt < 8; attempt++) {
      const entry = await this.bucket.get(counterKey);
      try {
        if (!entry || entry.operation !== 'PUT') {
          await this.bucket.create(counterKey, '1');
          return { allowed: limit >= 1, retryAfterSeconds };
        }
        const count = Number(entry.string());
        if (count >= limit) return { allowed: false, retryAfterSeconds };
        await this.bucket.update(counterKey, String(count + 1), entry.revision);
        return { allowed: true, retryAfterSeconds };
      } catch {
        // Another instance wrote first: read again and retry.
      }
    }
    // Sustained contention on one key is itself a flood: refuse rather than let it through.
    return { allowed: false, retryAfterSeconds };
  }
}

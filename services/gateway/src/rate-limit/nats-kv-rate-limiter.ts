import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '@homiwork/clock';
import { openKvBucket, rateLimitBucket } from '@homiwork/messaging';

export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

/** T: how often each instance adds its local hits to the shared counters (and learns the others'). */
export const SYNC_INTERVAL_MS = 100;
/** A view of a shared counter older than this is fetched again before it decides anything. */
export const STALE_AFTER_MS = 2 * SYNC_INTERVAL_MS;
/** Within this many remaining hits (or the margin the others' rate asks for, if larger) every hit is counted in the shared store. */
export const EXACT_MARGIN_MIN = 10;
/**
 * At most this share of the limit (at least one hit) is allowed locally before the store has
 * it: when reconciliation stalls (a slow store, a starved event loop), or hits are spread
 * over many instances within one sync interval, each other instance's overshoot stays
 * bounded by it instead of growing towards a whole limit (or the exact margin) each.
 */
export const UNSYNCED_SHARE = 0.05;
/** d: allowance for one reconciliation round trip (and timer lateness) in the margin. */
const ROUND_TRIP_MS = 10;
/** Compare-and-set conflicts on one counter in a row before the waiting hits are refused (sustained contention is a flood). */
const MAX_CONFLICTS = 32;

interface Waiter {
  resolve: (allowed: boolean) => void;
}

interface Counter {
  /** `<key>.<window>` in the bucket. */
  readonly name: string;
  readonly window: number;
  readonly windowMs: number;
  limit: number;
  /** The shared total as last seen, its KV revision (0: not in the bucket yet) and when it was seen. */
  global: number;
  revision: number;
  seenAtMs: number;
  /** Hits this instance allowed that the shared counter does not hold yet. */
  unsynced: number;
  /** Hits per second the other instances added, learned at reconciliation (rises at once, halves per interval). */
  othersPerSecond: number;
  othersSinceMs: number;
  othersHits: number;
  /** Hits on the exact path waiting for the next compare-and-set, which decides them all at once. */
  waiting: Waiter[];
  draining: boolean;
  /** Shared-store work on this counter runs one at a time (compare-and-set against our own last revision). */
  tail: Promise<unknown>;
  pending: number;
}

/**
 * R2.2: fixed-window counters shared by every gateway instance, without a write per
 * request. Each instance counts hits locally and every T = SYNC_INTERVAL_MS adds its
 * local delta to the shared counter `<key>.<window>` in a NATS KV bucket by
 * compare-and-set, learning the global total in the same step. A hit is decided
 * locally — no I/O — from (last known global total + local unsynced hits) while the
 * remaining budget exceeds a margin; within the margin (always, for limits up to
 * EXACT_MARGIN_MIN such as auth's 10/min) hits are counted in the shared counter itself
 * (the hits waiting at one moment share one compare-and-set), so the end of a window is
 * exact across instances. Over the limit nothing is written.
 *
 * Overshoot bound: when an instance decides locally, its view is `age` old (≤ 2T) and
 * the other instances' hits reach the store within T + d, so it may not know of
 * R_others × (age + T + d) ≤ R_others × (3T + d) hits. The margin is 1.5 × that, with
 * R_others measured at reconciliation: at a steady rate the overshoot is 0; a jump of the
 * others' rate between two reconciliations can overshoot by at most
 * R_others × (3T + d) — N instances at total rate R: (N−1)/N × R × (3T + d), e.g. 2
 * instances, 1,000 req/s, T = 100 ms: ≤ 155. However late reconciliation runs, no
 * instance holds more than UNSYNCED_SHARE of the limit unknown to the store — beyond
 * that its hits take the exact path — so the others' hits it cannot see are bounded too.
 */
export class NatsKvRateLimiter {
  private readonly counters = new Map<string, Counter>();
  private readonly timer: NodeJS.Timeout | undefined;

  /** `reconcileEvery: 'manual'` leaves reconciliation to `sync()`: a test that moves its own clock decides when T has passed. */
  constructor(
    private readonly bucket: KV,
    private readonly clock: Clock,
    options: { reconcileEvery?: 'interval' | 'manual' } = {},
  ) {
    if (options.reconcileEvery === 'manual') return;
    this.timer = setInterval(() => this.reconcile(), SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  static async open(nc: NatsConnection, namespace: string, clock: Clock, options: { reconcileEvery?: 'interval' | 'manual' } = {}): Promise<NatsKvRateLimiter> {
    // Migrate creates the bucket; the gateway's NATS user may only open it.
    const bucket = await openKvBucket(nc, rateLimitBucket(namespace));
    return new NatsKvRateLimiter(bucket, clock, options);
  }

  /** A decision without I/O when the counter's view is fresh and the budget not nearly spent; otherwise a promise. */
  hit(key: string, limit: number, windowSeconds: number): RateDecision | Promise<RateDecision> {
    const now = this.clock.nowMs();
    const windowMs = windowSeconds * 1000;
    const window = Math.floor(now / windowMs);
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
    const name = `${key}.${window}`;
    let counter = this.counters.get(name);
    if (!counter) {
      counter = {
        name,
        window,
        windowMs,
        limit,
        global: 0,
        revision: 0,
        seenAtMs: Number.NEGATIVE_INFINITY,
        unsynced: 0,
        othersPerSecond: 0,
        othersSinceMs: now,
        othersHits: 0,
        waiting: [],
        draining: false,
        tail: Promise.resolve(),
        pending: 0,
      };
      this.counters.set(name, counter);
    }
    counter.limit = limit;
    // Counts only grow within a window: once the shared total is at the limit, refuse without I/O.
    if (counter.global >= limit) return { allowed: false, retryAfterSeconds };
    if (now - counter.seenAtMs <= STALE_AFTER_MS) return this.decide(counter, now, retryAfterSeconds);
    const refreshed = this.serialized(counter, async () => {
      if (this.clock.nowMs() - counter.seenAtMs > STALE_AFTER_MS) await this.fetch(counter);
    });
    return refreshed.then(
      () => this.decide(counter, this.clock.nowMs(), retryAfterSeconds),
      // The shared store cannot be asked: fail closed, as for a flood.
      () => ({ allowed: false, retryAfterSeconds }),
    );
  }

  /** Adds what this instance holds to the shared counters now, learning the others' hits on a conflict. */
  async sync(): Promise<void> {
    const holding = [...this.counters.values()].filter((counter) => counter.unsynced > 0);
    await Promise.allSettled(holding.map((counter) => this.serialized(counter, () => this.flush(counter))));
  }

  /** Stops reconciling, after adding what this instance still holds to the shared counters. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sync();
  }

  private decide(counter: Counter, now: number, retryAfterSeconds: number): RateDecision | Promise<RateDecision> {
    const remaining = counter.limit - counter.global - counter.unsynced;
    if (remaining <= 0) return { allowed: false, retryAfterSeconds };
    if (remaining > this.margin(counter, now) && counter.unsynced < Math.ceil(counter.limit * UNSYNCED_SHARE)) {
      counter.unsynced++;
      return { allowed: true, retryAfterSeconds };
    }
    return new Promise<boolean>((resolve) => {
      counter.waiting.push({ resolve });
      if (!counter.draining) {
        counter.draining = true;
        void this.serialized(counter, () => this.countExactly(counter));
      }
    }).then((allowed) => ({ allowed, retryAfterSeconds }));
  }

  /** The hits the others may have allowed that this view does not show yet, × 1.5. */
  private margin(counter: Counter, now: number): number {
    const unseenMs = now - counter.seenAtMs + SYNC_INTERVAL_MS + ROUND_TRIP_MS;
    return Math.max(EXACT_MARGIN_MIN, Math.ceil((1.5 * counter.othersPerSecond * unseenMs) / 1000));
  }

  /** Every T: add each counter's local hits to the shared one; forget past windows, and idle counters that are not exhausted. */
  private reconcile(): void {
    const now = this.clock.nowMs();
    for (const counter of this.counters.values()) {
      if (counter.pending > 0) continue;
      // A past window's counts matter no more, to anyone.
      if (now >= (counter.window + 1) * counter.windowMs) this.counters.delete(counter.name);
      else if (counter.unsynced > 0) void this.serialized(counter, () => this.flush(counter)).catch(() => undefined);
      // An exhausted counter stays until its window ends, so refusals cost no I/O; an idle
      // one would be fetched again at its next hit anyway.
      else if (now - counter.seenAtMs > STALE_AFTER_MS && counter.global < counter.limit) this.counters.delete(counter.name);
    }
  }

  private serialized<T>(counter: Counter, work: () => Promise<T>): Promise<T> {
    counter.pending++;
    const run = counter.tail.then(work);
    counter.tail = run.then(
      () => counter.pending--,
      () => counter.pending--,
    );
    return run;
  }

  private async fetch(counter: Counter): Promise<void> {
    const entry = await this.bucket.get(counter.name);
    const exists = entry !== null && entry.operation === 'PUT';
    this.learn(counter, exists ? Number(entry.string()) : 0, exists ? entry.revision : 0, false);
  }

  /** Adds the local hits to the shared counter; a conflict (another instance wrote) costs a re-read. */
  private async flush(counter: Counter): Promise<void> {
    for (let attempt = 0; attempt < 4 && counter.unsynced > 0; attempt++) {
      const adding = counter.unsynced;
      if (await this.compareAndSet(counter, counter.global + adding)) {
        counter.unsynced -= adding;
        return;
      }
      await this.fetch(counter);
    }
  }

  /**
   * The exact path: the hits waiting now, with the local unsynced ones, go to the shared
   * counter in one compare-and-set — as many as the budget has room for; the rest are
   * refused. Hits arriving meanwhile wait for the next round.
   */
  private async countExactly(counter: Counter): Promise<void> {
    let conflicts = 0;
    try {
      while (counter.waiting.length > 0) {
        const room = counter.limit - counter.global - counter.unsynced;
        if (room <= 0) {
          for (const waiter of counter.waiting.splice(0)) waiter.resolve(false);
          break;
        }
        const batch = counter.waiting.slice(0, Math.min(room, counter.waiting.length));
        const adding = counter.unsynced;
        if (await this.compareAndSet(counter, counter.global + adding + batch.length)) {
          counter.unsynced -= adding;
          counter.waiting.splice(0, batch.length);
          for (const waiter of batch) waiter.resolve(true);
          conflicts = 0;
          continue;
        }
        if (++conflicts >= MAX_CONFLICTS) {
          for (const waiter of counter.waiting.splice(0)) waiter.resolve(false);
          break;
        }
        await this.fetch(counter);
      }
    } catch {
      for (const waiter of counter.waiting.splice(0)) waiter.resolve(false);
    } finally {
      counter.draining = false;
    }
  }

  private async compareAndSet(counter: Counter, total: number): Promise<boolean> {
    let revision: number;
    try {
      revision = counter.revision === 0 ? await this.bucket.create(counter.name, String(total)) : await this.bucket.update(counter.name, String(total), counter.revision);
    } catch {
      return false;
    }
    this.learn(counter, total, revision, true);
    return true;
  }

  /** A new view of the shared counter; what grew beyond our own writes came from the others. */
  private learn(counter: Counter, global: number, revision: number, ownWrite: boolean): void {
    const now = this.clock.nowMs();
    if (!ownWrite && Number.isFinite(counter.seenAtMs)) counter.othersHits += Math.max(0, global - counter.global);
    counter.global = Math.max(global, counter.global);
    counter.revision = revision;
    counter.seenAtMs = now;
    const elapsed = now - counter.othersSinceMs;
    if (elapsed >= SYNC_INTERVAL_MS) {
      // A burst is believed at once, a lull only slowly.
      counter.othersPerSecond = Math.max((counter.othersHits * 1000) / elapsed, counter.othersPerSecond / 2);
      counter.othersHits = 0;
      counter.othersSinceMs = now;
    }
  }
}

/**
 * What the events bench and its worker processes say to each other over the IPC channel
 * (`process.send`), and what they share: the event, its payload, the clock.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { defineConsumer, UserRegisteredV1 } from '@homiwork/contracts';

/** The event every phase sends, raw or through the pipeline. */
export const BENCH_EVENT = UserRegisteredV1;
/** The pipeline's durable consumer, named as a deployed service would name it. */
export const BENCH_CONSUMER = defineConsumer({ service: 'retention', event: UserRegisteredV1 });
/** Durable name of the raw phase's consumer. */
export const RAW_DURABLE = 'bench-raw';
/** Header with the raw publisher's clock at publish time. */
export const SENT_AT_HEADER = 'Bench-Sent-At';

export function benchPayload(): { userId: string; registeredAt: string } {
  return { userId: randomUUID(), registeredAt: new Date().toISOString() };
}

/**
 * Milliseconds on a clock the processes of one machine share, with sub-millisecond
 * resolution (Date.now() has whole milliseconds): each process's time origin plus its
 * monotonic time since.
 */
export function sharedClock(): number {
  return performance.timeOrigin + performance.now();
}

export type WorkerRole = 'raw-publisher' | 'raw-consumer' | 'producer' | 'relay' | 'consumer';

/** Settings of a worker, passed as JSON in BENCH_WORKER (no secrets in it: the bench's local services use trust auth). */
export interface WorkerSettings {
  role: WorkerRole;
  /** Name of this process in the report, e.g. `producer 1`. */
  name: string;
  natsUrl: string;
  namespace: string;
  databaseUrl?: string;
  schema?: string;
  /** Raw publisher: publishes in flight. Raw consumer: pull max_messages. */
  window?: number;
  /** Producer: concurrent transactions, events per transaction, and how they are appended. */
  concurrency?: number;
  txSize?: number;
  append?: 'all' | 'each';
  /** Relay and consumer batch sizes. */
  batchSize?: number;
}

export type ToWorker =
  /** Raw publisher: publish `events` messages with ids `<prefix>-<i>`. */
  | { kind: 'publish'; events: number; prefix: string }
  /** Raw consumer: the next `count` messages make a run; ack the last one synchronously and report. */
  | { kind: 'expect'; count: number }
  /** Producer: commit `events` events, starting at `startAt` (shared clock), paced to `rate`/s if given. */
  | { kind: 'produce'; events: number; startAt: number; rate?: number }
  | { kind: 'stop' };

export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'published'; events: number; startedAt: number; endedAt: number }
  /** Raw consumer: a run's messages all arrived and the last ack was confirmed; lags in ms. */
  | { kind: 'drained'; at: number; lags: number[] }
  /** Producer: one transaction committed at `at`, holding these outbox ids. */
  | { kind: 'committed'; ids: string[]; at: number }
  | { kind: 'produced'; transactions: number; late: number; txMs: number }
  /** Relay: totals since start, sent when they change (at most every 50 ms). */
  | { kind: 'relayed'; published: number; batches: number; batchMs: number; at: number }
  /** Consumer: one batch transaction committed at `at`, holding these message ids. */
  | { kind: 'applied'; ids: string[]; at: number }
  | { kind: 'error'; message: string };

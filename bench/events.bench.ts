/**
 * Event-pipeline benchmark against the machine's real PostgreSQL and NATS JetStream.
 *
 *   1. raw     — js.publish (bounded in-flight window) → durable pull consumer, ack each.
 *   2. burst   — N events: producers append to the outbox in transactions → OutboxRelay →
 *                JetStream → EventConsumer (inbox insert in the handler's transaction).
 *   3. paced   — the same pipeline with producers paced to a fixed offered rate.
 *   (stages)   — diagnostic, BENCH_PHASES=stages: producers, relay and consumer each alone.
 *
 * Not part of `npm test`. Run from the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/events.bench.ts
 * Every knob is an environment variable (see CONFIG below). Everything it creates (one
 * database, one namespace of streams per phase) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { AckPolicy, DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import { SystemClock } from '@homiwork/clock';
import { defineConsumer, EVENTS_STREAM, eventSubject, streamName, UserRegisteredV1 } from '@homiwork/contracts';
import {
  connectToNats,
  CreateMessagingTables1764200000000,
  EVENT_TYPE_HEADER,
  EventConsumer,
  MessagingMetrics,
  OCCURRED_AT_HEADER,
  Outbox,
  OutboxRelay,
  provisionStreams,
  type NatsHandles,
  type StreamLimits,
} from '@homiwork/messaging';
import { createLogger, ServiceMetrics, type Logger } from '@homiwork/observability';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { databaseUrl, randomId, TEST_ADMIN_DATABASE_URL, TEST_NATS_URL, withAdminClient } from '@homiwork/testing';
import { intEnv, out, sleep } from './support/bench-kit.js';

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------


const CONFIG = {
  /** Events per measured run of phases 1 and 2. */
  events: intEnv('BENCH_EVENTS', 30_000, 100, 200_000),
  /** Events pushed through each path before measuring, so JIT and connections are warm. */
  warmup: intEnv('BENCH_WARMUP', 2_000, 0, 20_000),
  /** Raw phase: publishes in flight at once. */
  publishWindow: intEnv('BENCH_PUBLISH_WINDOW', 512, 1, 4_096),
  /** Raw phase: max_messages of the pull consumer. */
  rawPull: intEnv('BENCH_RAW_PULL', 1_024, 1, 10_000),
  /** Pipeline: concurrent producer loops (each holds one pooled connection while in a transaction). */
  producers: intEnv('BENCH_PRODUCERS', 4, 1, 64),
  /** Pipeline: events appended per producer transaction. */
  txSize: intEnv('BENCH_TX_SIZE', 50, 1, 1_000),
  /** Pipeline: OutboxRelay batchSize (library default 500). */
  relayBatch: intEnv('BENCH_RELAY_BATCH', 500, 1, 10_000),
  /** Pipeline: EventConsumer batchSize (library default 64). */
  consumerBatch: intEnv('BENCH_CONSUMER_BATCH', 64, 1, 4_096),
  /** Pipeline: pg pool size of the DataSource (library default 10); 0 = producers + 4. */
  poolSize: intEnv('BENCH_POOL', 0, 0, 90),
  /** Phase 3: offered rate in events/s and its duration. */
  rate: intEnv('BENCH_RATE', 5_000, 1, 100_000),
  rateSeconds: intEnv('BENCH_RATE_SECONDS', 10, 1, 60),
  /** Phases to run, comma-separated subset of raw,burst,paced (default) and stages (diagnostic). */
  phases: new Set((process.env.BENCH_PHASES ?? 'raw,burst,paced').split(',').map((p) => p.trim())),
  /** Hard limit for one phase and for the whole run. */
  phaseTimeoutMs: intEnv('BENCH_PHASE_TIMEOUT_MS', 60_000, 1_000, 600_000),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 180_000, 10_000, 1_800_000),
};
for (const phase of CONFIG.phases) {
  if (!['raw', 'burst', 'paced', 'stages'].includes(phase)) throw new Error(`BENCH_PHASES: unknown phase ${phase} (raw, burst, paced, stages)`);
}
const POOL_SIZE = CONFIG.poolSize || CONFIG.producers + 4;
const STREAM_LIMITS: StreamLimits = { maxAgeDays: 1, duplicateWindowSeconds: 120, maxBytes: 512 * 1024 ** 2, replicas: 1 };
const SCHEMA = 'bench';
const CONSUMER = defineConsumer({ service: 'retention', event: UserRegisteredV1 });
const RUN_ID = `bench${randomId(3)}`;

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------



/** `what` may be a function, so the message tells the progress at the moment of the time-out. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string, pollMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(pollMs);
  }
}

function userRegisteredPayload(): { userId: string; registeredAt: string } {
  return { userId: randomUUID(), registeredAt: new Date().toISOString() };
}

/** Collects one measured run: per-event lag (ms) and first/last timestamps. */
class Recorder {
  readonly lags: Float64Array;
  count = 0;
  startedAt = 0;
  lastAt = 0;
  private resolveDone: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(readonly target: number) {
    this.lags = new Float64Array(target);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  start(): void {
    this.startedAt = performance.now();
  }

  record(lagMs: number): void {
    if (this.count < this.target) this.lags[this.count] = lagMs;
    this.count++;
  }

  /** Called when the recorded events are final (acked / committed). */
  settle(): void {
    if (this.count >= this.target && this.lastAt === 0) {
      this.lastAt = performance.now();
      this.resolveDone?.();
    }
  }

  get seconds(): number {
    return (this.lastAt - this.startedAt) / 1000;
  }

  get rate(): number {
    return Math.min(this.count, this.target) / this.seconds;
  }

  percentile(q: number): number {
    const n = Math.min(this.count, this.target);
    if (n === 0) return Number.NaN;
    const sorted = this.lags.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  }
}

const CLOCK_TICKS = 100;

/** Busy CPU seconds of the whole machine (all processes), from /proc/stat; NaN without /proc. */
function hostBusySeconds(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
    return (ticks.slice(0, 8).reduce((sum, value) => sum + value, 0) - ticks[3]! - ticks[4]!) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of every postgres and nats-server process, by pid. */
function serverProcessTicks(): Map<number, { nats: boolean; seconds: number }> {
  const result = new Map<number, { nats: boolean; seconds: number }>();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if (comm !== 'postgres' && comm !== 'nats-server') continue;
      const fields = stat.slice(close + 2).split(' ');
      // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
      result.set(Number(entry), { nats: comm === 'nats-server', seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS });
    }
  } catch {
    // no /proc: report only our own CPU
  }
  return result;
}

/**
 * Where the CPU went during a measurement: this process (and how busy its event loop was),
 * PostgreSQL's processes, nats-server, and everything else on the machine. Sampled every
 * 500 ms per pid, so a connection closing mid-run keeps the CPU it used (only its last
 * <500 ms is lost) instead of showing up as "other processes".
 */
class CpuMeter {
  private readonly startedAt = performance.now();
  private readonly elu = performance.eventLoopUtilization();
  private readonly self = process.cpuUsage();
  private readonly host = hostBusySeconds();
  private last = serverProcessTicks();
  private postgres = 0;
  private nats = 0;
  private readonly timer = setInterval(() => this.sample(), 500);

  private sample(): void {
    const now = serverProcessTicks();
    for (const [pid, current] of now) {
      const delta = current.seconds - (this.last.get(pid)?.seconds ?? 0); // a new process: all its CPU is ours
      if (current.nats) this.nats += delta;
      else this.postgres += delta;
    }
    this.last = now;
  }

  stop(): string {
    clearInterval(this.timer);
    this.sample();
    const wall = (performance.now() - this.startedAt) / 1000;
    const pct = (seconds: number): string => `${Math.round((seconds / wall) * 100)}%`;
    const usage = process.cpuUsage(this.self);
    const self = (usage.user + usage.system) / 1e6;
    const others = Math.max(0, hostBusySeconds() - this.host - self - this.postgres - this.nats);
    const elu = performance.eventLoopUtilization(this.elu).utilization;
    return (
      `node ${pct(self)} (event loop busy ${Math.round(elu * 100)}%), postgres ${pct(this.postgres)}, ` +
      `nats-server ${pct(this.nats)}, other processes ${Number.isNaN(others) ? 'n/a' : pct(others)} (% of one core)`
    );
  }
}

interface PhaseResult {
  name: string;
  events: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
  cpu: string;
  notes: string[];
}

function summarise(name: string, recorder: Recorder, cpu: string, notes: string[] = []): PhaseResult {
  return {
    name,
    events: Math.min(recorder.count, recorder.target),
    seconds: recorder.seconds,
    rate: recorder.rate,
    p50: recorder.percentile(0.5),
    p99: recorder.percentile(0.99),
    max: recorder.percentile(1),
    cpu,
    notes,
  };
}

// ---------------------------------------------------------------------------------------
// Cleanup registry: everything created is registered here first, removed in reverse.
// ---------------------------------------------------------------------------------------

const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const step of cleanups.reverse()) {
    try {
      await withTimeout(step.run(), 15_000, step.what);
    } catch (error) {
      process.stderr.write(`cleanup: ${step.what} failed: ${String(error)}\n`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Infrastructure
// ---------------------------------------------------------------------------------------

/** Warns when other processes keep the machine busy: the numbers would then measure them too. */
async function checkQuiet(): Promise<void> {
  const before = hostBusySeconds();
  await sleep(1_000);
  const busy = hostBusySeconds() - before;
  if (busy > 0.25) {
    process.stderr.write(`warning: the machine is already ${Math.round(busy * 100)}% busy (of one core) before the bench starts; results will be lower and noisier\n`);
  }
}

async function preflight(): Promise<NatsHandles> {
  await withTimeout(
    withAdminClient((client) => client.query('SELECT 1')),
    5_000,
    `connecting to PostgreSQL at ${TEST_ADMIN_DATABASE_URL}`,
  ).catch((error: unknown) => {
    throw new Error(`PostgreSQL is not reachable at ${TEST_ADMIN_DATABASE_URL} (set TEST_ADMIN_DATABASE_URL): ${String(error)}`);
  });
  const connecting = connectToNats(TEST_NATS_URL, `events-bench-${RUN_ID}`);
  const nats = await withTimeout(connecting, 5_000, `connecting to NATS at ${TEST_NATS_URL}`).catch((error: unknown) => {
    throw new Error(`NATS with JetStream is not reachable at ${TEST_NATS_URL} (set NATS_URL; the server needs -js): ${String(error)}`);
  });
  cleanups.push({ what: 'closing the NATS connection', run: () => nats.nc.drain() });
  return nats;
}

async function createNamespace(nats: NatsHandles, label: string): Promise<string> {
  const namespace = `${RUN_ID}${label}`;
  const names = await provisionStreams(nats.jsm, namespace, STREAM_LIMITS);
  cleanups.push({ what: `deleting streams ${names.join(', ')}`, run: () => Promise.all(names.map((name) => nats.jsm.streams.delete(name))) });
  return namespace;
}

async function createDatabase(): Promise<string> {
  const name = `${RUN_ID}_events`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  cleanups.push({ what: `dropping database ${name}`, run: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)) });
  return databaseUrl(name);
}

// ---------------------------------------------------------------------------------------
// Phase 1: raw JetStream
// ---------------------------------------------------------------------------------------

async function runRaw(nats: NatsHandles): Promise<PhaseResult> {
  const namespace = await createNamespace(nats, 'raw');
  const stream = streamName(namespace, EVENTS_STREAM);
  const subject = eventSubject(namespace, UserRegisteredV1);
  await nats.jsm.consumers.add(stream, {
    durable_name: 'bench-raw',
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: Math.max(1_000, CONFIG.rawPull * 2),
  });
  const consumer = await nats.js.consumers.get(stream, 'bench-raw');
  const messages: ConsumerMessages = await consumer.consume({ max_messages: CONFIG.rawPull });
  let recorder = new Recorder(CONFIG.warmup);

  const reader = (async () => {
    for await (const msg of messages) {
      const occurred = msg.headers?.get(OCCURRED_AT_HEADER);
      msg.json(); // a consumer reads its payload
      const current = recorder;
      current.record(occurred ? Date.now() - Date.parse(occurred) : Number.NaN);
      if (current.count === current.target) {
        // The last ack of the run is confirmed by the server before the clock stops.
        await msg.ackAck();
        current.settle();
      } else {
        msg.ack();
      }
    }
  })();

  const publish = async (count: number, prefix: string): Promise<void> => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const h = natsHeaders();
        h.set(EVENT_TYPE_HEADER, UserRegisteredV1.type);
        h.set(OCCURRED_AT_HEADER, new Date().toISOString());
        await nats.js.publish(subject, JSON.stringify(userRegisteredPayload()), { msgID: `${prefix}-${i}`, headers: h });
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONFIG.publishWindow, count) }, lane));
  };

  try {
    if (CONFIG.warmup > 0) {
      recorder.start();
      await publish(CONFIG.warmup, 'warm');
      await withTimeout(recorder.done, CONFIG.phaseTimeoutMs, 'raw warm-up delivery');
    }
    recorder = new Recorder(CONFIG.events);
    const cpu = new CpuMeter();
    recorder.start();
    const published = publish(CONFIG.events, 'run');
    await withTimeout(published, CONFIG.phaseTimeoutMs, 'raw publishing');
    const publishedAt = performance.now();
    await withTimeout(recorder.done, CONFIG.phaseTimeoutMs, () => `raw delivery (${recorder.count}/${recorder.target} received)`);
    return summarise('1 raw JetStream', recorder, cpu.stop(), [
      `window ${CONFIG.publishWindow}, pull max_messages ${CONFIG.rawPull}; publishing alone took ${((publishedAt - recorder.startedAt) / 1000).toFixed(2)} s`,
    ]);
  } finally {
    await messages.close();
    await reader;
  }
}

// ---------------------------------------------------------------------------------------
// Phases 2 and 3: outbox → relay → JetStream → EventConsumer
// ---------------------------------------------------------------------------------------

/** Where the stages spend their time: counted from outside the library (a subclass and the commit hook). */
class StageStats {
  relayBatches = 0;
  relayRows = 0;
  relayMs = 0;
  consumerCommits = 0;
  producerTx = 0;
  producerTxMs = 0;

  describe(): string {
    const avg = (total: number, count: number, digits = 0): string => (count > 0 ? (total / count).toFixed(digits) : 'n/a');
    return (
      `relay ${this.relayBatches} batches of ~${avg(this.relayRows, this.relayBatches)} rows, ${avg(this.relayMs, this.relayBatches, 1)} ms each; ` +
      `consumer ${this.consumerCommits} transactions; producer transactions ${avg(this.producerTxMs, this.producerTx, 1)} ms each`
    );
  }
}

/** OutboxRelay as the library runs it, with the time and size of each non-empty batch noted. */
class MeasuredRelay extends OutboxRelay {
  stats = new StageStats();

  override async relayBatch(): Promise<number> {
    const started = performance.now();
    const rows = await super.relayBatch();
    if (rows > 0) {
      this.stats.relayBatches++;
      this.stats.relayRows += rows;
      this.stats.relayMs += performance.now() - started;
    }
    return rows;
  }
}

interface Pipeline {
  dataSource: DataSource;
  outbox: Outbox;
  metrics: MessagingMetrics;
  relay: MeasuredRelay;
  consumer: EventConsumer<typeof UserRegisteredV1>;
  /** Swapped per run; the consumer's handler records into it. */
  recorder: Recorder;
  stop(): Promise<void>;
}

/** Sets up schema, streams, relay and consumer; starts relay and consumer unless told not to. */
async function createPipeline(nats: NatsHandles, url: string, label: string, logger: Logger, options: { start: boolean } = { start: true }): Promise<Pipeline> {
  const namespace = await createNamespace(nats, label);
  const schema = `${SCHEMA}_${label}`;
  const dataSource = createServiceDataSource({
    databaseUrl: url,
    schema,
    migrations: [CreateMessagingTables1764200000000],
    poolSize: POOL_SIZE,
    applicationName: `events-bench-${label}`,
  });
  await dataSource.initialize();
  cleanups.push({ what: `closing the ${label} data source`, run: async () => dataSource.isInitialized && (await dataSource.destroy()) });
  await runMigrations(dataSource);

  const metrics = new MessagingMetrics(new ServiceMetrics(`events-bench-${label}`));
  let recorder = new Recorder(0);
  const relay = new MeasuredRelay({ dataSource, schema, js: nats.js, logger, metrics, batchSize: CONFIG.relayBatch, pollIntervalMs: 1_000 });
  const consumer = new EventConsumer({
    contract: CONSUMER,
    // Does nothing but note the lag; the library inserts the inbox row in this transaction.
    handler: (_payload, context) => {
      recorder.record(context.occurredAt ? Date.now() - context.occurredAt.getTime() : Number.NaN);
      return Promise.resolve();
    },
    namespace,
    dataSource,
    schema,
    js: nats.js,
    jsm: nats.jsm,
    logger,
    metrics,
    batchSize: CONFIG.consumerBatch,
    // The only hook the library offers after its commit: the run ends when the last batch committed.
    hooks: {
      afterCommit: () => {
        relay.stats.consumerCommits++;
        recorder.settle();
      },
    },
  });
  let stopped = false;
  const pipeline: Pipeline = {
    dataSource,
    outbox: new Outbox(schema, namespace, new SystemClock()),
    metrics,
    relay,
    consumer,
    get recorder() {
      return recorder;
    },
    set recorder(next: Recorder) {
      recorder = next;
    },
    /** Stops relay and consumer and closes the pool, so the next phase has the machine to itself. */
    async stop() {
      if (stopped) return;
      stopped = true;
      await relay.stop();
      await consumer.stop();
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
  cleanups.push({ what: `stopping the ${label} relay and consumer`, run: () => pipeline.stop() });
  if (options.start) {
    await consumer.start();
    await relay.start();
  }
  return pipeline;
}

async function publishedCount(metrics: MessagingMetrics): Promise<number> {
  return (await metrics.published.get()).values.reduce((sum, value) => sum + value.value, 0);
}

interface ProducerPlan {
  events: number;
  /** Offered rate in events/s; undefined = as fast as the producers go. */
  rate?: number;
}

interface ProducerProgress {
  inserted: number;
  lateBatches: number;
  batches: number;
}

/**
 * CONFIG.producers concurrent loops, each appending CONFIG.txSize events per transaction
 * (like many requests each committing a change with its event). With a rate, transaction
 * b starts no earlier than t0 + b·txSize/rate.
 */
async function produce(pipeline: Pipeline, plan: ProducerPlan, t0: number, progress: ProducerProgress): Promise<void> {
  progress.batches = Math.ceil(plan.events / CONFIG.txSize);
  let nextBatch = 0;
  const producer = async (): Promise<void> => {
    while (nextBatch < progress.batches) {
      const batch = nextBatch++;
      const size = Math.min(CONFIG.txSize, plan.events - batch * CONFIG.txSize);
      if (plan.rate) {
        const due = t0 + ((batch * CONFIG.txSize) / plan.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        else if (wait < -50) progress.lateBatches++;
      }
      const txStarted = performance.now();
      await pipeline.dataSource.transaction(async (manager) => {
        await pipeline.outbox.appendAll(manager, UserRegisteredV1, Array.from({ length: size }, userRegisteredPayload));
      });
      pipeline.relay.stats.producerTxMs += performance.now() - txStarted;
      pipeline.relay.stats.producerTx++;
      progress.inserted += size;
    }
  };
  await withTimeout(
    Promise.all(Array.from({ length: CONFIG.producers }, producer)),
    CONFIG.phaseTimeoutMs,
    () => `producers (${progress.inserted}/${plan.events} committed)`,
  );
}

/**
 * Runs producers, then waits for the consumer to have committed every event. Besides the
 * end-to-end numbers it notes when each stage finished (producers committed everything,
 * the relay published everything), which shows which stage is the bottleneck.
 */
async function runPipeline(pipeline: Pipeline, plan: ProducerPlan): Promise<{ recorder: Recorder; notes: string[] }> {
  pipeline.relay.stats = new StageStats();
  const recorder = new Recorder(plan.events);
  pipeline.recorder = recorder;
  const publishedBefore = await publishedCount(pipeline.metrics);
  const progress: ProducerProgress = { inserted: 0, lateBatches: 0, batches: 0 };
  let producersDoneAt = 0;
  let relayDoneAt = 0;
  let maxBacklog = 0;

  recorder.start();
  const t0 = recorder.startedAt;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const published = (await publishedCount(pipeline.metrics)) - publishedBefore;
      maxBacklog = Math.max(maxBacklog, progress.inserted - published);
      if (relayDoneAt === 0 && published >= plan.events) relayDoneAt = performance.now();
      await sleep(10);
    }
  })();

  try {
    await produce(pipeline, plan, t0, progress);
    producersDoneAt = performance.now();
    await withTimeout(
      recorder.done,
      CONFIG.phaseTimeoutMs,
      () => `pipeline delivery (${recorder.count}/${plan.events} handled, ${progress.inserted} committed to the outbox)`,
    );
    await waitUntil(() => relayDoneAt > 0, 5_000, () => 'the relay counter to catch up');
  } finally {
    sampling = false;
    await sampler;
  }
  const s = (at: number): string => `${((at - t0) / 1000).toFixed(2)} s`;
  const producerRate = (plan.events / ((producersDoneAt - t0) / 1000)).toFixed(0);
  const notes = [
    `stages done at: producers ${s(producersDoneAt)} (${producerRate}/s), relay ${s(relayDoneAt)}, consumer ${s(recorder.lastAt)}; max outbox backlog ~${maxBacklog}`,
    pipeline.relay.stats.describe(),
  ];
  if (plan.rate) notes.push(`offered ${plan.rate}/s: producers achieved ${producerRate}/s, ${progress.lateBatches} of ${progress.batches} transactions started > 50 ms late`);
  return { recorder, notes };
}

/**
 * Diagnostic (BENCH_PHASES=stages): each stage alone on N events, the others stopped, so
 * each has the process to itself: producers fill the outbox, then the relay empties it
 * into the stream, then the consumer drains the stream.
 */
async function runStages(nats: NatsHandles, url: string, logger: Logger): Promise<string[]> {
  const pipeline = await createPipeline(nats, url, 'stages', logger);
  if (CONFIG.warmup > 0) await runPipeline(pipeline, { events: CONFIG.warmup });
  await pipeline.relay.stop();
  await pipeline.consumer.stop();
  const n = CONFIG.events;
  const lines: string[] = [];
  pipeline.relay.stats = new StageStats();
  const line = (name: string, started: number, cpu: CpuMeter): void => {
    const seconds = (performance.now() - started) / 1000;
    lines.push(`${name.padEnd(16)} ${(n / seconds).toFixed(0).padStart(6)}/s  (${seconds.toFixed(2)} s; cpu ${cpu.stop()})`);
  };

  let cpu = new CpuMeter();
  let started = performance.now();
  await produce(pipeline, { events: n }, started, { inserted: 0, lateBatches: 0, batches: 0 });
  line('producers alone', started, cpu);

  const publishedBefore = await publishedCount(pipeline.metrics);
  cpu = new CpuMeter();
  started = performance.now();
  await pipeline.relay.start();
  await waitUntil(async () => (await publishedCount(pipeline.metrics)) - publishedBefore >= n, CONFIG.phaseTimeoutMs, () => 'the relay to publish the outbox');
  line('relay alone', started, cpu);
  await pipeline.relay.stop();

  const recorder = new Recorder(n);
  pipeline.recorder = recorder;
  cpu = new CpuMeter();
  recorder.start();
  await pipeline.consumer.start();
  await withTimeout(recorder.done, CONFIG.phaseTimeoutMs, () => `the consumer to drain the stream (${recorder.count}/${n})`);
  line('consumer alone', recorder.startedAt, cpu);
  await pipeline.stop();
  lines.push(pipeline.relay.stats.describe());
  return lines;
}

async function runBurst(nats: NatsHandles, url: string, logger: Logger): Promise<PhaseResult> {
  const pipeline = await createPipeline(nats, url, 'burst', logger);
  if (CONFIG.warmup > 0) await runPipeline(pipeline, { events: CONFIG.warmup });
  const cpu = new CpuMeter();
  const { recorder, notes } = await runPipeline(pipeline, { events: CONFIG.events });
  const cpuLine = cpu.stop();
  await pipeline.stop();
  return summarise('2 pipeline, burst', recorder, cpuLine, notes);
}

async function runPaced(nats: NatsHandles, url: string, logger: Logger): Promise<PhaseResult> {
  const pipeline = await createPipeline(nats, url, 'paced', logger);
  if (CONFIG.warmup > 0) await runPipeline(pipeline, { events: CONFIG.warmup });
  const cpu = new CpuMeter();
  const { recorder, notes } = await runPipeline(pipeline, { events: CONFIG.rate * CONFIG.rateSeconds, rate: CONFIG.rate });
  const cpuLine = cpu.stop();
  await pipeline.stop();
  return summarise(`3 pipeline @ ${CONFIG.rate}/s`, recorder, cpuLine, notes);
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

function report(results: PhaseResult[]): void {
  const ms = (value: number): string => (Number.isNaN(value) ? 'n/a' : `${value.toFixed(0)} ms`);
  const rows = results.map((r) => [r.name, String(r.events), `${r.seconds.toFixed(2)} s`, `${r.rate.toFixed(0)}/s`, ms(r.p50), ms(r.p99), ms(r.max)]);
  const header = ['phase', 'events', 'time', 'events/s', 'lag p50', 'lag p99', 'lag max'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  out();
  out(line(header));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out(line(row));
  out();
  for (const r of results) {
    out(`${r.name}: cpu ${r.cpu}`);
    for (const note of r.notes) out(`  ${note}`);
  }
  const raw = results.find((r) => r.name.startsWith('1'));
  const burst = results.find((r) => r.name.startsWith('2'));
  const paced = results.find((r) => r.name.startsWith('3'));
  out();
  if (raw && burst) {
    const ratio = burst.rate / raw.rate;
    out(`ratio pipeline/raw throughput: ${ratio.toFixed(2)}`);
    out(`goal ≥ 5000 events/s end to end: ${burst.rate >= 5_000 ? 'MET' : 'NOT MET'} (${burst.rate.toFixed(0)}/s)`);
    out(`goal ≥ 0.3 of raw: ${ratio >= 0.3 ? 'MET' : 'NOT MET'} (${ratio.toFixed(2)})`);
  }
  if (paced) {
    const kept = paced.rate >= CONFIG.rate * 0.97;
    out(`goal p99 lag < 1 s at ${CONFIG.rate}/s: ${paced.p99 < 1_000 && kept ? 'MET' : 'NOT MET'} (p99 ${ms(paced.p99)}, achieved ${paced.rate.toFixed(0)}/s)`);
  }
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const logger = createLogger({ service: 'events-bench', level: process.env.BENCH_LOG_LEVEL ?? 'warn', destination: process.stderr });
  out(
    `events bench ${RUN_ID}: N=${CONFIG.events} (+${CONFIG.warmup} warm-up per phase), raw window ${CONFIG.publishWindow}, producers ${CONFIG.producers}×${CONFIG.txSize}/tx, ` +
      `relay batch ${CONFIG.relayBatch}, consumer batch ${CONFIG.consumerBatch}, pool ${POOL_SIZE}, paced ${CONFIG.rate}/s × ${CONFIG.rateSeconds} s`
  );
  const nats = await preflight();
  await checkQuiet();
  const results: PhaseResult[] = [];
  if (CONFIG.phases.has('raw')) {
    results.push(await runRaw(nats));
    out(`raw done: ${results.at(-1)!.rate.toFixed(0)}/s`);
  }
  let stages: string[] = [];
  if (CONFIG.phases.has('burst') || CONFIG.phases.has('paced') || CONFIG.phases.has('stages')) {
    const url = await createDatabase();
    if (CONFIG.phases.has('burst')) {
      results.push(await runBurst(nats, url, logger));
      out(`burst done: ${results.at(-1)!.rate.toFixed(0)}/s`);
    }
    if (CONFIG.phases.has('paced')) {
      results.push(await runPaced(nats, url, logger));
      out(`paced done: ${results.at(-1)!.rate.toFixed(0)}/s`);
    }
    if (CONFIG.phases.has('stages')) stages = await runStages(nats, url, logger);
  }
  report(results);
  if (stages.length > 0) {
    out();
    out(`stages alone (diagnostic, N=${CONFIG.events}):`);
    for (const line of stages) out(`  ${line}`);
  }
}

const watchdog = setTimeout(() => {
  process.stderr.write(`events bench: exceeded BENCH_TIMEOUT_MS=${CONFIG.totalTimeoutMs}; cleaning up\n`);
  void cleanup().finally(() => process.exit(2));
}, CONFIG.totalTimeoutMs);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`events bench: ${signal}; cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  const detail = error instanceof Error ? (process.env.BENCH_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`events bench failed: ${detail}\n`);
  exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(exitCode);

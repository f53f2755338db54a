/**
 * Event-pipeline benchmark at production shape, against the machine's real PostgreSQL and
 * NATS JetStream. Every part runs in a process of its own, as deployed:
 *
 *   1. raw     — a publisher process (js.publish, bounded in-flight window) and a consumer
 *                process (durable pull consumer, explicit ack of each message).
 *   2. burst   — N events: producer process(es) commit transactions that write events
 *                through Outbox.appendAll (or .append) → a relay process (OutboxRelay) →
 *                JetStream → a consumer process (EventConsumer: handler and inbox insert in
 *                one transaction, ack after commit). Same N and payload as raw.
 *   3. paced   — the same processes with the producers paced to BENCH_RATE events/s.
 *
 * Throughput is end to end: raw from the first publish to the confirmed ack of the last
 * message; pipeline from the producers' start to the commit of the consumer transaction
 * that applied the last event. Lag per event: raw, publish → received; pipeline, the
 * producer's commit → the consumer's commit (both on the machine's shared clock).
 * CPU is accounted per process (each worker, postgres for this bench and for other sessions,
 * nats-server, this coordinator, everything else), RSS per worker. Before each phase the bench waits (BENCH_QUIET_WAIT_SECONDS)
 * for no identity/media/transport bench and an idle machine; the CPU of other processes during the
 * phase is printed, and a phase where it exceeded 10 % of one core is marked DISTURBED.
 *
 * Not part of `npm test`. Run from the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/events.bench.ts
 * Every knob is an environment variable (see CONFIG). BENCH_PROFILE=1 starts the workers
 * with the inspector and prints CPU profiles of the pipeline's processes during the burst
 * (numbers of such a run are lower). Everything it creates (one database, the streams of
 * its namespace, the worker processes) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { cpus, loadavg } from 'node:os';
import { CreateMessagingTables1764200000000, connectToNats, provisionStreams, type NatsHandles, type StreamLimits } from '@homiwork/messaging';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { databaseUrl, randomId, TEST_ADMIN_DATABASE_URL, TEST_NATS_URL, withAdminClient } from '@homiwork/testing';
import { type Cleanup, createBenchDatabase, intEnv, out, pidsNamed, removeNamespaceOnCleanup, runBench, waitUntil, withTimeout } from './support/bench-kit.js';
import { type CpuGroups, type CpuUsage, cpuWindow, DISTURBED_PERCENT, OTHER, SELF, waitForQuietMachine } from './support/cpu.js';
import { rssOfProc } from './support/memory.js';
import { profileDuring } from './support/profile.js';
import { fmt, mb, pad, percentile } from './support/stats.js';
import { sharedClock, type FromWorker, type WorkerSettings } from './support/events/protocol.js';
import { Worker } from './support/events/workers.js';

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

const CONFIG = {
  /** Events per measured run of phases 1 and 2 (the same for both). */
  events: intEnv('BENCH_EVENTS', 30_000, 100, 500_000),
  /** Events pushed through each path before measuring, so JIT, pools and connections are warm. */
  warmup: intEnv('BENCH_WARMUP', 2_000, 0, 50_000),
  /** Raw: publishes in flight, and max_messages of the pull consumer. */
  publishWindow: intEnv('BENCH_PUBLISH_WINDOW', 512, 1, 4_096),
  rawPull: intEnv('BENCH_RAW_PULL', 1_024, 1, 10_000),
  /** Pipeline: producer processes, transactions in flight in each, events per transaction. */
  producerProcesses: intEnv('BENCH_PRODUCER_PROCESSES', 1, 1, 8),
  producers: intEnv('BENCH_PRODUCERS', 4, 1, 64),
  txSize: intEnv('BENCH_TX_SIZE', 50, 1, 1_000),
  /** Pipeline: `all` = one Outbox.appendAll per transaction, `each` = one Outbox.append per event. */
  append: (process.env.BENCH_APPEND ?? 'all') as 'all' | 'each',
  /** OutboxRelay and EventConsumer batch sizes; 0 = the library's default. */
  relayBatch: intEnv('BENCH_RELAY_BATCH', 0, 0, 10_000),
  consumerBatch: intEnv('BENCH_CONSUMER_BATCH', 0, 0, 4_096),
  /** Phase 3: offered rate in events/s and its duration. */
  rate: intEnv('BENCH_RATE', 5_000, 1, 100_000),
  rateSeconds: intEnv('BENCH_RATE_SECONDS', 10, 1, 120),
  /** Phases to run, comma-separated subset of raw,burst,paced. */
  phases: new Set((process.env.BENCH_PHASES ?? 'raw,burst,paced').split(',').map((p) => p.trim())),
  /** CPU profiles of producer, relay and consumer during the burst (see header). */
  profile: process.env.BENCH_PROFILE === '1',
  profileDir: process.env.BENCH_PROFILE_DIR ?? '/tmp/events-bench-profiles',
  /** Before each phase: wait up to this long for no other bench and a nearly idle machine. */
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 60, 0, 3_600),
  /** Hard limit for one phase and for the whole run. */
  phaseTimeoutMs: intEnv('BENCH_PHASE_TIMEOUT_MS', 120_000, 1_000, 600_000),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 1_800_000, 10_000, 7_200_000),
};
for (const phase of CONFIG.phases) {
  if (!['raw', 'burst', 'paced'].includes(phase)) throw new Error(`BENCH_PHASES: unknown phase ${phase} (raw, burst, paced)`);
}
if (CONFIG.append !== 'all' && CONFIG.append !== 'each') throw new Error(`BENCH_APPEND must be all or each, got ${String(CONFIG.append)}`);
/** Goals of issue 7. */
const GOALS = { eventsPerSecond: 6_000, ratioToRaw: 0.6, pacedP99Ms: 1_000 };
const STREAM_LIMITS: StreamLimits = { maxAgeDays: 1, duplicateWindowSeconds: 120, maxBytes: 512 * 1024 ** 2, replicas: 1 };
const SCHEMA = 'bench';
const RUN_ID = `bench${randomId(3)}`;
const OTHER_BENCHES = ['identity', 'media', 'transport'];

const cleanups: Cleanup[] = [];

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

interface PhaseResult {
  name: string;
  events: number;
  seconds: number;
  rate: number;
  /** Lags in ms, ascending. */
  lags: number[];
  /** Events/s the producers committed (pipeline) or published (raw). */
  offeredRate: number;
  cpu: CpuUsage;
  rss: Array<{ name: string; rss: number; hwm: number }>;
  notes: string[];
}

function rssOf(workers: Worker[]): PhaseResult['rss'] {
  return workers.flatMap((worker) => worker.pid.map((pid) => ({ name: worker.name, ...rssOfProc(pid) })));
}

const POSTGRES_OTHERS = 'postgres, other sessions';

/**
 * Other sessions (tests of other work on this machine) use the same PostgreSQL: its
 * backends serving this bench's processes (by application_name) and its background
 * processes count as "postgres", the backends of everyone else apart.
 */
async function cpuGroupsOf(workers: Worker[]): Promise<CpuGroups> {
  const rows = await withAdminClient((client) =>
    client.query<{ pid: number; ours: boolean }>(
      `SELECT pid, (application_name LIKE 'events-bench-%' OR application_name = $1 OR backend_type <> 'client backend') AS ours FROM pg_stat_activity`,
      [`${SCHEMA}-outbox-relay`],
    ),
  );
  const others = new Set(rows.rows.filter((row) => !row.ours).map((row) => row.pid));
  return {
    ...Object.fromEntries(workers.map((worker) => [worker.name, () => worker.pid])),
    postgres: () => pidsNamed('postgres').filter((pid) => !others.has(pid)),
    [POSTGRES_OTHERS]: () => pidsNamed('postgres').filter((pid) => others.has(pid)),
    'nats-server': () => pidsNamed('nats-server'),
  };
}

/** More than 10 % of one core used by other processes or by PostgreSQL for other sessions. */
function disturbedBy(usage: CpuUsage): number {
  return (usage.percent[OTHER] ?? 0) + (usage.percent[POSTGRES_OTHERS] ?? 0);
}

async function startWorker(settings: WorkerSettings): Promise<Worker> {
  const worker = await Worker.start(settings, { inspect: CONFIG.profile, timeoutMs: 60_000 });
  cleanups.push({ what: `stopping ${settings.name}`, run: () => worker.stop() });
  return worker;
}

async function quietMachine(): Promise<void> {
  await waitForQuietMachine(CONFIG.quietWaitSeconds, OTHER_BENCHES);
  out(`  load average ${loadavg().map((value) => fmt(value, 2)).join(' ')} (1/5/15 min) at the start of the phase`);
}

// ---------------------------------------------------------------------------------------
// Phase 1: raw JetStream, publisher and consumer processes
// ---------------------------------------------------------------------------------------

async function runRaw(nats: NatsHandles): Promise<PhaseResult> {
  const namespace = `${RUN_ID}raw`;
  await provisionStreams(nats.jsm, namespace, STREAM_LIMITS);
  const common = { natsUrl: TEST_NATS_URL, namespace };
  const consumer = await startWorker({ ...common, role: 'raw-consumer', name: 'raw consumer', window: CONFIG.rawPull });
  const publisher = await startWorker({ ...common, role: 'raw-publisher', name: 'raw publisher', window: CONFIG.publishWindow });
  const once = async (events: number, prefix: string) => {
    const expecting = consumer.next('ready', 10_000);
    consumer.send({ kind: 'expect', count: events });
    await expecting;
    const drained = consumer.next('drained', CONFIG.phaseTimeoutMs);
    const published = publisher.next('published', CONFIG.phaseTimeoutMs);
    publisher.send({ kind: 'publish', events, prefix });
    const [publishedReport, drainedReport] = await Promise.race([Promise.all([published, drained]), publisher.failed, consumer.failed]);
    return { published: publishedReport, drained: drainedReport };
  };
  if (CONFIG.warmup > 0) await once(CONFIG.warmup, 'warm');
  await quietMachine();
  const window = cpuWindow(await cpuGroupsOf([publisher, consumer]));
  const { published, drained } = await once(CONFIG.events, 'run');
  const cpu = window.stop();
  const rss = rssOf([publisher, consumer]);
  await publisher.stop();
  await consumer.stop();
  const seconds = (drained.at - published.startedAt) / 1000;
  return {
    name: '1 raw JetStream',
    events: CONFIG.events,
    seconds,
    rate: CONFIG.events / seconds,
    lags: drained.lags.sort((a, b) => a - b),
    offeredRate: CONFIG.events / ((published.endedAt - published.startedAt) / 1000),
    cpu,
    rss,
    notes: [`publishing alone took ${fmt((published.endedAt - published.startedAt) / 1000, 2)} s (window ${CONFIG.publishWindow}); pull max_messages ${CONFIG.rawPull}`],
  };
}

// ---------------------------------------------------------------------------------------
// Phases 2 and 3: producers → outbox → relay → JetStream → consumer, one process each
// ---------------------------------------------------------------------------------------

/** One run of the pipeline: joins each event's commit (producer) with its application (consumer). */
class RunTracker {
  private readonly committedAt = new Map<string, number>();
  /** Applied before its commit report arrived (the reports come over different pipes). */
  private readonly appliedEarly = new Map<string, number>();
  readonly lags: number[] = [];
  applied = 0;
  /** Consumer transactions that applied events of this run. */
  transactions = 0;
  lastAppliedAt = 0;
  lastCommittedAt = 0;
  private resolveDone: (() => void) | undefined;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(readonly target: number) {}

  committed(ids: string[], at: number): void {
    this.lastCommittedAt = Math.max(this.lastCommittedAt, at);
    for (const id of ids) {
      const applied = this.appliedEarly.get(id);
      if (applied === undefined) this.committedAt.set(id, at);
      else {
        this.appliedEarly.delete(id);
        this.lags.push(applied - at);
      }
    }
  }

  appliedBatch(ids: string[], at: number): void {
    for (const id of ids) {
      const committed = this.committedAt.get(id);
      if (committed === undefined) this.appliedEarly.set(id, at);
      else {
        this.committedAt.delete(id);
        this.lags.push(at - committed);
      }
    }
    this.applied += ids.length;
    this.transactions++;
    this.lastAppliedAt = Math.max(this.lastAppliedAt, at);
    if (this.applied >= this.target) this.resolveDone?.();
  }

  get pending(): string {
    return `${this.applied}/${this.target} applied, ${this.committedAt.size} committed and not yet applied`;
  }
}

interface Pipeline {
  producers: Worker[];
  relay: Worker;
  consumer: Worker;
  all: Worker[];
  tracker: RunTracker;
  /** Rows the relay has published since it started, as last reported, and when. */
  relayed: { published: number; batches: number; batchMs: number; at: number };
}

async function startPipeline(nats: NatsHandles, database: string): Promise<Pipeline> {
  const namespace = `${RUN_ID}pipe`;
  await provisionStreams(nats.jsm, namespace, STREAM_LIMITS);
  const migrator = createServiceDataSource({ databaseUrl: database, schema: SCHEMA, migrations: [CreateMessagingTables1764200000000], poolSize: 2 });
  await migrator.initialize();
  try {
    await runMigrations(migrator);
  } finally {
    await migrator.destroy();
  }
  const common = { natsUrl: TEST_NATS_URL, namespace, databaseUrl: database, schema: SCHEMA };
  const consumer = await startWorker({ ...common, role: 'consumer', name: 'consumer', ...(CONFIG.consumerBatch ? { batchSize: CONFIG.consumerBatch } : {}) });
  const relay = await startWorker({ ...common, role: 'relay', name: 'relay', ...(CONFIG.relayBatch ? { batchSize: CONFIG.relayBatch } : {}) });
  const producers: Worker[] = [];
  for (let i = 0; i < CONFIG.producerProcesses; i++) {
    producers.push(
      await startWorker({ ...common, role: 'producer', name: CONFIG.producerProcesses === 1 ? 'producer' : `producer ${i + 1}`, concurrency: CONFIG.producers, txSize: CONFIG.txSize, append: CONFIG.append }),
    );
  }
  const pipeline: Pipeline = { producers, relay, consumer, all: [...producers, relay, consumer], tracker: new RunTracker(0), relayed: { published: 0, batches: 0, batchMs: 0, at: 0 } };
  for (const producer of producers) {
    producer.onMessage((message: FromWorker) => {
      if (message.kind === 'committed') pipeline.tracker.committed(message.ids, message.at);
    });
  }
  consumer.onMessage((message: FromWorker) => {
    if (message.kind === 'applied') pipeline.tracker.appliedBatch(message.ids, message.at);
  });
  relay.onMessage((message: FromWorker) => {
    if (message.kind === 'relayed') pipeline.relayed = message;
  });
  return pipeline;
}

/**
 * Offers `events` (split over the producer processes, at `rate`/s if given), waits until
 * the consumer has applied all of them, and notes when each stage finished.
 */
async function pipelineRun(pipeline: Pipeline, name: string, events: number, rate?: number): Promise<Omit<PhaseResult, 'cpu' | 'rss'>> {
  const tracker = new RunTracker(events);
  pipeline.tracker = tracker;
  const relayedBefore = pipeline.relayed;
  let relayDoneAt = 0;
  const relayWatch = setInterval(() => {
    if (relayDoneAt === 0 && pipeline.relayed.published - relayedBefore.published >= events) relayDoneAt = pipeline.relayed.at;
  }, 10);
  const startAt = sharedClock() + 50;
  const count = pipeline.producers.length;
  const produced = pipeline.producers.map((producer) => producer.next('produced', CONFIG.phaseTimeoutMs));
  pipeline.producers.forEach((producer, i) => {
    const share = Math.floor(events / count) + (i < events % count ? 1 : 0);
    producer.send({ kind: 'produce', events: share, startAt, ...(rate ? { rate: rate / count } : {}) });
  });
  try {
    const reports = await Promise.race([Promise.all(produced), ...pipeline.all.map((worker) => worker.failed)]);
    await withTimeout(Promise.race([tracker.done, ...pipeline.all.map((worker) => worker.failed)]), CONFIG.phaseTimeoutMs, () => `the pipeline (${tracker.pending})`);
    // The relay reports every 50 ms: its last report may come after the consumer's.
    await waitUntil(() => pipeline.relayed.published - relayedBefore.published >= events, 1_000, () => 'the relay to report its last batch').catch(() => undefined);
    relayDoneAt ||= pipeline.relayed.published - relayedBefore.published >= events ? pipeline.relayed.at : 0;
    const seconds = (tracker.lastAppliedAt - startAt) / 1000;
    const at = (time: number): string => (time > 0 ? `${fmt((time - startAt) / 1000, 2)} s` : 'n/a');
    const transactions = reports.reduce((sum, report) => sum + report.transactions, 0);
    const txMs = reports.reduce((sum, report) => sum + report.txMs, 0);
    const late = reports.reduce((sum, report) => sum + report.late, 0);
    const committedRate = events / ((tracker.lastCommittedAt - startAt) / 1000);
    const relayBatches = pipeline.relayed.batches - relayedBefore.batches;
    const relayRows = pipeline.relayed.published - relayedBefore.published;
    const notes = [
      `stages done at: producers ${at(tracker.lastCommittedAt)} (${fmt(committedRate, 0)} events/s committed), relay ${at(relayDoneAt)}, consumer ${at(tracker.lastAppliedAt)}`,
      `producer transactions of ${CONFIG.txSize} (${CONFIG.append === 'all' ? 'Outbox.appendAll' : 'Outbox.append each'}): ${transactions}, ${fmt(txMs / transactions, 1)} ms each; ` +
        `relay ${relayBatches} batches of ~${fmt(relayRows / relayBatches, 0)} rows, ${fmt((pipeline.relayed.batchMs - relayedBefore.batchMs) / relayBatches, 1)} ms each; ` +
        `consumer ${tracker.transactions} transactions of ~${fmt(events / tracker.transactions, 0)} events`,
    ];
    if (rate) notes.push(`offered ${rate}/s: producers committed ${fmt(committedRate, 0)}/s; ${late} of ${transactions} transactions started > 50 ms late`);
    return { name, events, seconds, rate: events / seconds, lags: tracker.lags.sort((a, b) => a - b), offeredRate: committedRate, notes };
  } finally {
    clearInterval(relayWatch);
  }
}

async function runPipelinePhases(nats: NatsHandles, database: string): Promise<PhaseResult[]> {
  const pipeline = await startPipeline(nats, database);
  if (CONFIG.warmup > 0) await pipelineRun(pipeline, 'warm-up', CONFIG.warmup);
  const results: PhaseResult[] = [];
  const measured = async (name: string, events: number, rate?: number): Promise<void> => {
    await quietMachine();
    const window = cpuWindow(await cpuGroupsOf(pipeline.all));
    const run = () => pipelineRun(pipeline, name, events, rate);
    const inspectors = new Map(pipeline.all.flatMap((worker) => (worker.inspectorUrl ? [[worker.name, worker.inspectorUrl] as const] : [])));
    const result = CONFIG.profile && !rate ? await profileDuring(inspectors, { dir: CONFIG.profileDir, label: RUN_ID }, () => ({ top: 12, per: { count: events / 1000, unit: '1k events' } }), run) : await run();
    results.push({ ...result, cpu: window.stop(), rss: rssOf(pipeline.all) });
    out(`  ${name}: ${fmt(result.rate, 0)} events/s end to end`);
  };
  if (CONFIG.phases.has('burst')) await measured('2 pipeline, burst', CONFIG.events);
  if (CONFIG.phases.has('paced')) await measured(`3 pipeline @ ${CONFIG.rate}/s`, CONFIG.rate * CONFIG.rateSeconds, CONFIG.rate);
  for (const worker of pipeline.all) await worker.stop();
  return results;
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

function describeCpu(usage: CpuUsage, events: number): string {
  const total = Object.values(usage.percent).reduce((sum, value) => sum + value, 0);
  const parts = Object.entries(usage.seconds)
    .filter(([group, value]) => value / usage.wall >= 0.005 || group === OTHER)
    .map(([group, value]) => `${group === SELF ? 'coordinator (this process)' : group} ${fmt(usage.percent[group] ?? 0, 0)}% (${fmt((value * 1e6) / events, 0)} µs/event)`);
  // What the run's own processes (workers, postgres for them, nats-server) spent per event: on a
  // machine shared with others, cores / that is an estimate of what the path would do alone.
  const own = Object.entries(usage.seconds)
    .filter(([group]) => group !== OTHER && group !== POSTGRES_OTHERS && group !== SELF)
    .reduce((sum, [, value]) => sum + value, 0);
  const alone = (cpus().length * events) / own;
  const flag = disturbedBy(usage) > DISTURBED_PERCENT ? ` — DISTURBED: others used ${fmt(disturbedBy(usage), 0)} % of one core (> ${DISTURBED_PERCENT} %)` : '';
  return (
    `CPU, % of one core (200 % = both) and µs per event: ${parts.join(', ')}; machine ${fmt(total, 0)}% (${fmt(((total / 100) * usage.wall * 1e6) / events, 0)} µs/event)${flag}\n` +
    `  the path's own processes (without this coordinator) used ${fmt((own * 1e6) / events, 0)} µs of CPU per event: ≈ ${fmt(alone, 0)} events/s if they had all ${cpus().length} cores (an estimate, not a measurement)`
  );
}

function report(results: PhaseResult[]): void {
  const ms = (value: number): string => (Number.isFinite(value) ? `${fmt(value, 0)} ms` : 'n/a');
  const rows = results.map((r) => [r.name, String(r.events), `${fmt(r.seconds, 2)} s`, `${fmt(r.rate, 0)}/s`, ms(percentile(r.lags, 50)), ms(percentile(r.lags, 99)), ms(r.lags.at(-1) ?? Number.NaN)]);
  const header = ['phase', 'events', 'time', 'events/s', 'lag p50', 'lag p99', 'lag max'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? pad(cell, widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  out();
  out(line(header));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out(line(row));
  out();
  for (const r of results) {
    out(`${r.name}:`);
    out(`  ${describeCpu(r.cpu, r.events)}`);
    out(`  RSS now / peak since start: ${r.rss.map((p) => `${p.name} ${mb(p.rss)} / ${mb(p.hwm)}`).join(', ')}`);
    for (const note of r.notes) out(`  ${note}`);
  }
  const raw = results.find((r) => r.name.startsWith('1'));
  const burst = results.find((r) => r.name.startsWith('2'));
  const paced = results.find((r) => r.name.startsWith('3'));
  out();
  const met = (ok: boolean): string => (ok ? 'MET' : 'NOT MET');
  if (burst) out(`goal ≥ ${GOALS.eventsPerSecond} events/s end to end: ${met(burst.rate >= GOALS.eventsPerSecond)} (${fmt(burst.rate, 0)}/s)`);
  if (raw && burst) {
    const ratio = burst.rate / raw.rate;
    out(`ratio pipeline / raw: ${fmt(ratio, 2)}; goal ≥ ${GOALS.ratioToRaw}: ${met(ratio >= GOALS.ratioToRaw)}`);
  }
  if (paced) {
    const p99 = percentile(paced.lags, 99);
    // Met only if the producers really offered the rate (≥ 97 % of it): lag is measured from each commit.
    const kept = paced.offeredRate >= CONFIG.rate * 0.97;
    out(`goal p99 lag < 1 s at ${CONFIG.rate}/s: ${met(p99 < GOALS.pacedP99Ms && kept)} (p99 ${ms(p99)}; producers committed ${fmt(paced.offeredRate, 0)}/s)`);
  }
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function preflight(): Promise<NatsHandles> {
  await withTimeout(
    withAdminClient((client) => client.query('SELECT 1')),
    5_000,
    `connecting to PostgreSQL at ${TEST_ADMIN_DATABASE_URL}`,
  ).catch((error: unknown) => {
    throw new Error(`PostgreSQL is not reachable at ${TEST_ADMIN_DATABASE_URL} (set TEST_ADMIN_DATABASE_URL): ${String(error)}`);
  });
  const nats = await withTimeout(connectToNats(TEST_NATS_URL, `events-bench-${RUN_ID}`), 5_000, `connecting to NATS at ${TEST_NATS_URL}`).catch((error: unknown) => {
    throw new Error(`NATS with JetStream is not reachable at ${TEST_NATS_URL} (set NATS_URL; the server needs -js): ${String(error)}`);
  });
  cleanups.push({ what: 'closing the NATS connection', run: () => nats.nc.drain() });
  removeNamespaceOnCleanup(nats.nc, RUN_ID, cleanups);
  return nats;
}

async function main(): Promise<void> {
  out(`events bench ${RUN_ID} — Node ${process.version}, ${cpus().length} cores; every part a process of its own on the same cores as PostgreSQL and nats-server`);
  out(
    `N=${CONFIG.events} (+${CONFIG.warmup} warm-up per path); raw: window ${CONFIG.publishWindow}, pull ${CONFIG.rawPull}; pipeline: ${CONFIG.producerProcesses} producer process(es) × ${CONFIG.producers} transactions in flight × ${CONFIG.txSize} events, ` +
      `relay batch ${CONFIG.relayBatch || 'default'}, consumer batch ${CONFIG.consumerBatch || 'default'}; paced ${CONFIG.rate}/s × ${CONFIG.rateSeconds} s`,
  );
  const nats = await preflight();
  const results: PhaseResult[] = [];
  if (CONFIG.phases.has('raw')) {
    out('raw JetStream: publisher process → stream → consumer process');
    results.push(await runRaw(nats));
    out(`  raw: ${fmt(results.at(-1)!.rate, 0)} events/s`);
  }
  if (CONFIG.phases.has('burst') || CONFIG.phases.has('paced')) {
    out('pipeline: producer process(es) → outbox → relay process → stream → consumer process');
    const name = `${RUN_ID}_events`;
    await createBenchDatabase(name, cleanups);
    results.push(...(await runPipelinePhases(nats, databaseUrl(name))));
  }
  report(results);
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

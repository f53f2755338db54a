/**
 * What observability costs, measured from outside (issue 12): the same system as `npm start`
 * runs it (startSystemProcess: the compiled supervisor, migrate, its own nats-server, the
 * embedded S3 server, every service of the manifest, free ports, NODE_ENV=production,
 * LOG_LEVEL=warn, every rate limit at its 1,000,000/min maximum, a signup grant of 1,000,000
 * energy, the local contractor) in two configurations:
 *   A bare     — no Prometheus (PROMETHEUS=off), no trace export (spans are ids only);
 *   B observed — Prometheus scraping every service and the supervisor every
 *                PROMETHEUS_SCRAPE_INTERVAL (5 s, the default) with the rules of
 *                deploy/prometheus/rules, and every service exporting OTLP/JSON traces
 *                (OTEL_EXPORTER_OTLP_ENDPOINT, the batch span processor at its defaults) to
 *                a receiver this bench runs in a child process of its own, so its CPU is
 *                accounted apart from the load generator's; it decodes each request, counts
 *                spans and bytes, and answers 200.
 * Measured alternately, A B A B … (BENCH_ROUNDS pairs), each slice a fresh system (own
 * database, run directory and nats-server), so a change of the machine's load hits both.
 * Per slice, after start: resident memory idle (median over 2 s), the CPU of an idle window
 * (background work; in B what scraping costs), in B the spans of one GET /v1/me and of one
 * text job sent alone; then
 *   me   — autocannon GET /v1/me with one user's token at BENCH_CONNECTIONS (32)
 *          connections, BENCH_WARMUP_SECONDS (2) + BENCH_SECONDS (8): req/s, p50/p99;
 *   jobs — text generations at BENCH_JOBS_IN_FLIGHT (2) in flight over two users (POST
 *          /v1/generations, poll GET /v1/generations/:id every 25 ms, GET
 *          /v1/contents/:id/file), same warm-up and seconds: jobs/s, p50/p99 of the whole job;
 * CPU of every process over each measured window (µs per request, ms per job), spans and
 * bytes the receiver got for each window (counted after the exporters' 5 s schedule has
 * flushed the warm-up before it and the window itself after it; every HTTP request is one
 * gateway server span, so gateway spans per answered request below 1 means spans were
 * dropped), and resident memory after the load. A slice is measured again when other
 * processes used more than BENCH_DISTURBED_PERCENT of one core. At the end: per
 * configuration the median over rounds and the ratio B/A.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24 (it builds what
 * changed first, as npm start does; BENCH_BUILD=0 skips that):
 *   npm run bench:observability-outside
 * Everything it creates (databases, run directories, the receiver) is removed at the end,
 * also on failure.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { ApiClient } from '@homiwork/api-client';
import { REPO_ROOT, startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { databaseUrl, randomId } from '@homiwork/testing';
import { type Cleanup, createBenchDatabase, intEnv, out, pidsNamed, runBench, sleep } from './support/bench-kit.js';
import { cpuWindow, OTHER, SELF, waitForQuietMachine, type CpuGroups, type CpuUsage } from './support/cpu.js';
import { Http } from './support/http.js';
import { closedLoop, type JobResult, type LoopResult } from './support/loops.js';
import { rssOfProc, sampleRss } from './support/memory.js';
import { autocannonPeak, type LoadResult } from './support/outside.js';
import { buildSystem, outsideSystemEnv, processesOf, type ProcessRow } from './support/system.js';
import { fmt, MB, median, pad } from './support/stats.js';

const CONFIG = {
  /** Pairs of slices (A then B). */
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  connections: intEnv('BENCH_CONNECTIONS', 32, 1, 1_024),
  jobsInFlight: intEnv('BENCH_JOBS_IN_FLIGHT', 2, 1, 64),
  /** Seconds of each measured window, and of the discarded warm-up before it. */
  seconds: intEnv('BENCH_SECONDS', 8, 1, 120),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 2, 0, 60),
  /** The observed system's scrape interval (run-system's default is 5). */
  scrapeInterval: intEnv('BENCH_SCRAPE_INTERVAL', 5, 1, 60),
  /** Seconds of the idle window after start (no requests; in B scraping only). */
  idleSeconds: intEnv('BENCH_IDLE_SECONDS', 10, 2, 120),
  pollMs: intEnv('BENCH_POLL_MS', 25, 1, 1_000),
  build: process.env.BENCH_BUILD !== '0',
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 60, 0, 3_600),
  /** A slice is measured again (up to BENCH_RETRIES times) when other processes used more than this % of one core. */
  disturbedPercent: intEnv('BENCH_DISTURBED_PERCENT', 25, 1, 200),
  retries: intEnv('BENCH_RETRIES', 2, 0, 20),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 2_400_000, 60_000, 7_200_000),
};
const SIGNUP_GRANT = 1_000_000;
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const PROMPTS = ['A warm birthday greeting for my colleague', 'A formal letter asking the landlord to fix the heating', 'Marketing copy for a small bakery opening on Monday'];
/** The batch span processor exports every 5 s (OTEL_BSP_SCHEDULE_DELAY's default); a little more lets the last export land. */
const EXPORT_FLUSH_MS = 6_500;
const OTHER_BENCHES = ['events', 'identity', 'media', 'transport', 'billing', 'generation', 'chat', 'erasure', 'retention-sweep'];
const RECEIVER = 'OTLP receiver (bench child)';
const PROMETHEUS = 'prometheus';

const cleanups: Cleanup[] = [];

type Configuration = 'A bare' | 'B observed';

// ---------------------------------------------------------------------------------------
// The OTLP receiver: its own process, so its CPU is not the load generator's
// ---------------------------------------------------------------------------------------

interface ReceiverCounts {
  requests: number;
  /** Bytes on the wire (request bodies as sent) and decoded. */
  bytes: number;
  decodedBytes: number;
  spans: number;
  byService: Record<string, number>;
}

interface Receiver {
  url: string;
  pid: number;
  counts(): Promise<ReceiverCounts>;
  stop(): Promise<void>;
}

const RECEIVER_SCRIPT = `
  import { createServer } from 'node:http';
  import { gunzipSync } from 'node:zlib';
  const counts = { requests: 0, bytes: 0, decodedBytes: 0, spans: 0, byService: {} };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/counts') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      let parsed;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return void res.writeHead(400).end();
      }
      counts.requests++;
      counts.bytes += raw.length;
      counts.decodedBytes += body.length;
      for (const resourceSpans of parsed.resourceSpans ?? []) {
        const service = resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '?';
        for (const scope of resourceSpans.scopeSpans ?? []) {
          const n = scope.spans?.length ?? 0;
          counts.spans += n;
          counts.byService[service] = (counts.byService[service] ?? 0) + n;
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write('LISTENING http://127.0.0.1:' + server.address().port + '\\n'));
  process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`;

async function startReceiver(): Promise<Receiver> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', RECEIVER_SCRIPT], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OTLP receiver did not start within 20 s')), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^LISTENING (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`the OTLP receiver exited with ${code}`)));
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, pid: child.pid!, counts: async () => (await (await fetch(`${url}/counts`)).json()) as ReceiverCounts, stop };
}

const minus = (after: ReceiverCounts, before: ReceiverCounts): ReceiverCounts => ({
  requests: after.requests - before.requests,
  bytes: after.bytes - before.bytes,
  decodedBytes: after.decodedBytes - before.decodedBytes,
  spans: after.spans - before.spans,
  byService: Object.fromEntries(Object.entries(after.byService).map(([service, n]) => [service, n - (before.byService[service] ?? 0)])),
});

// ---------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------

interface Users {
  tokens: string[];
}

async function createUsers(api: ApiClient, count: number, tag: string): Promise<Users> {
  const tokens: string[] = [];
  for (let index = 0; index < count; index++) {
    const name = `bench_${tag}${index}`;
    await api.accounts.register({ email: `bench.${tag}${index}@example.com`, username: name, password: PASSWORD, ageConfirmed: true });
    tokens.push((await api.accounts.login({ login: name, password: PASSWORD })).accessToken);
  }
  return { tokens };
}

/** One text job as a user runs it: POST, poll until succeeded, download the content; `calls` counts its requests. */
async function textJob(http: Http, token: string, index: number, calls: { n: number }): Promise<JobResult> {
  calls.n++;
  const created = await http.call('POST', '/v1/generations', token, { kind: 'text', prompt: PROMPTS[index % PROMPTS.length]! });
  if (created.status !== 202) return { ok: false, outcome: `POST ${created.status}`, detail: created.body.slice(0, 300) };
  const { id } = JSON.parse(created.body) as { id: string };
  const deadline = performance.now() + 60_000;
  for (;;) {
    await sleep(CONFIG.pollMs);
    if (performance.now() > deadline) return { ok: false, outcome: 'stuck' };
    calls.n++;
    const polled = await http.call('GET', `/v1/generations/${id}`, token);
    if (polled.status !== 200) return { ok: false, outcome: `poll ${polled.status}`, detail: polled.body.slice(0, 300) };
    const state = JSON.parse(polled.body) as { status: string; contentId?: string; error?: unknown };
    if (state.status === 'failed') return { ok: false, outcome: 'failed', detail: JSON.stringify(state.error) };
    if (state.status !== 'succeeded') continue;
    calls.n++;
    const file = await http.call('GET', `/v1/contents/${state.contentId!}/file`, token);
    if (file.status !== 200 || file.body.length === 0) return { ok: false, outcome: `file ${file.status}` };
    return { ok: true, outcome: 'succeeded' };
  }
}

// ---------------------------------------------------------------------------------------
// One slice: a fresh system in one configuration, both workloads
// ---------------------------------------------------------------------------------------

interface Window {
  cpu: CpuUsage;
  /** Spans and bytes the receiver got for this window (B only). */
  received?: ReceiverCounts;
}

interface Slice {
  configuration: Configuration;
  round: number;
  rows: ProcessRow[];
  idleRss: Map<string, number>;
  afterRss: Map<string, number>;
  /** No requests: background work, and in B what scraping costs. */
  idle: Window;
  /** B: spans of one request / one job sent alone, by service. */
  alone?: { me: ReceiverCounts; job: ReceiverCounts };
  me: LoadResult & Window;
  /** `calls`: HTTP requests the jobs made (POST, polls, download). */
  jobs: LoopResult & Window & { calls: number };
  /** Other processes' CPU, % of one core, the higher of the two load windows. */
  otherPercent: number;
  loadAtStart: string;
  warnLines: number;
  restarts: number;
  /** B: targets Prometheus scraped as up, of all, and its head series. */
  scraped?: { up: number; targets: number; series: number };
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The supervisor's children get a label from their command line; Prometheus' is its last flag. */
function labelled(rows: ProcessRow[]): ProcessRow[] {
  return rows.map((row) => {
    try {
      return readFileSync(`/proc/${row.pid}/comm`, 'utf8').trim() === 'prometheus' ? { ...row, label: PROMETHEUS } : row;
    } catch {
      return row;
    }
  });
}

async function prometheusQuery(url: string, query: string): Promise<number> {
  const answer = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data?: { result?: Array<{ value: [number, string] }> } };
  return Number(answer.data?.result?.[0]?.value[1] ?? Number.NaN);
}

async function measuredWindow<T>(groups: CpuGroups, receiver: Receiver | undefined, run: () => Promise<T>): Promise<{ result: T } & Window> {
  // The warm-up's spans are exported on the processors' schedule: let them land first.
  if (receiver) await sleep(EXPORT_FLUSH_MS);
  const before = receiver ? await receiver.counts() : undefined;
  const window = cpuWindow(groups);
  const result = await run();
  const cpu = window.stop();
  if (!receiver) return { result, cpu };
  await sleep(EXPORT_FLUSH_MS);
  return { result, cpu, received: minus(await receiver.counts(), before!) };
}

async function runSlice(configuration: Configuration, round: number, receiver: Receiver): Promise<Slice> {
  const observed = configuration === 'B observed';
  await waitForQuietMachine(CONFIG.quietWaitSeconds, OTHER_BENCHES);
  const loadAtStart = loadAverage();
  const sliceCleanups: Cleanup[] = [];
  const tag = `${RUN_ID}${observed ? 'b' : 'a'}${round}`;
  try {
    await createBenchDatabase(`${tag}_system`, sliceCleanups);
    const runDir = await mkdtemp(join(tmpdir(), `${tag}-run-`));
    sliceCleanups.push({ what: 'removing the run directory', run: () => rm(runDir, { recursive: true, force: true }) });
    const extra: NodeJS.ProcessEnv = { ENERGY_SIGNUP_GRANT: String(SIGNUP_GRANT) };
    if (observed) Object.assign(extra, { PROMETHEUS: 'on', PROMETHEUS_PORT: '0', PROMETHEUS_SCRAPE_INTERVAL: String(CONFIG.scrapeInterval), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    const system: SystemProcess = await startSystemProcess(outsideSystemEnv({ url: databaseUrl(`${tag}_system`), runDir, namespace: tag }, extra), { timeoutMs: 180_000 });
    sliceCleanups.push({ what: 'stopping the system', run: () => system.stop() });
    if (observed && !system.prometheusUrl) throw new Error('the observed system runs no Prometheus');

    const rows = labelled(processesOf(system, await system.status()));
    if (observed && !rows.some((row) => row.label === PROMETHEUS)) throw new Error('no prometheus process among the supervisor\'s children');
    const groups: CpuGroups = Object.fromEntries(rows.map((row) => [row.label, () => [row.pid]]));
    groups[RECEIVER] = () => [receiver.pid];
    groups.postgres = () => pidsNamed('postgres');

    const api = new ApiClient({ baseUrl: system.apiUrl });
    const users = await createUsers(api, Math.max(2, CONFIG.jobsInFlight), tag);
    const http = new Http(system.apiUrl);
    sliceCleanups.push({ what: 'closing the HTTP agent', run: () => Promise.resolve(http.close()) });

    await sleep(3_000);
    const idleSampler = sampleRss(
      rows.map((row) => row.pid),
      100,
    );
    await sleep(2_000);
    const idleMedian = (await idleSampler.stop()).median;
    const idleRss = new Map(rows.map((row) => [row.label, idleMedian.get(row.pid) ?? Number.NaN]));

    // Background work with no request at all; in B also scraping and any span it exports.
    const idleWindow = await measuredWindow(groups, observed ? receiver : undefined, () => sleep(CONFIG.idleSeconds * 1000));
    const idle: Window = { cpu: idleWindow.cpu, ...(idleWindow.received ? { received: idleWindow.received } : {}) };
    let alone: Slice['alone'];
    if (observed) {
      // The spans one request and one job produce when nothing is queued.
      const me = await measuredWindow(groups, receiver, () => http.call('GET', '/v1/me', users.tokens[0]));
      const job = await measuredWindow(groups, receiver, () => textJob(http, users.tokens[0]!, 0, { n: 0 }));
      alone = { me: me.received!, job: job.received! };
    }

    const authorization = { authorization: `Bearer ${users.tokens[0]!}` };
    const meUrl = `${system.apiUrl}/v1/me`;
    if (CONFIG.warmupSeconds > 0) await autocannonPeak(meUrl, { headers: authorization, connections: CONFIG.connections, seconds: CONFIG.warmupSeconds });
    const meWindow = await measuredWindow(groups, observed ? receiver : undefined, () => autocannonPeak(meUrl, { headers: authorization, connections: CONFIG.connections, seconds: CONFIG.seconds }));

    const calls = { n: 0 };
    const job = (index: number, worker: number) => textJob(http, users.tokens[worker % users.tokens.length]!, index, calls);
    if (CONFIG.warmupSeconds > 0) await closedLoop(CONFIG.jobsInFlight, { seconds: CONFIG.warmupSeconds }, job);
    calls.n = 0;
    const jobsWindow = await measuredWindow(groups, observed ? receiver : undefined, () => closedLoop(CONFIG.jobsInFlight, { seconds: CONFIG.seconds }, job));

    await sleep(2_000);
    const afterRss = new Map(
      rows.map((row) => {
        try {
          return [row.label, rssOfProc(row.pid).rss];
        } catch {
          return [row.label, Number.NaN];
        }
      }),
    );
    let scraped: Slice['scraped'];
    if (observed) {
      const url = system.prometheusUrl!;
      scraped = { up: await prometheusQuery(url, 'count(up == 1)'), targets: await prometheusQuery(url, 'count(up)'), series: await prometheusQuery(url, 'prometheus_tsdb_head_series') };
    }
    const warnLines = system.output.filter((line) => /"level":("(warn|error|fatal)"|40|50|60)/.test(line)).length;
    const restarts = (await system.status()).reduce((sum, instance) => sum + instance.restarts, 0);
    const slice: Slice = {
      configuration,
      round,
      rows,
      idleRss,
      afterRss,
      idle,
      ...(alone ? { alone } : {}),
      me: { ...meWindow.result, cpu: meWindow.cpu, ...(meWindow.received ? { received: meWindow.received } : {}) },
      jobs: { ...jobsWindow.result, calls: calls.n, cpu: jobsWindow.cpu, ...(jobsWindow.received ? { received: jobsWindow.received } : {}) },
      otherPercent: Math.max(meWindow.cpu.percent[OTHER] ?? 0, jobsWindow.cpu.percent[OTHER] ?? 0),
      loadAtStart,
      warnLines,
      restarts,
      ...(scraped ? { scraped } : {}),
    };
    printSlice(slice);
    return slice;
  } finally {
    while (sliceCleanups.length > 0) {
      const cleanup = sliceCleanups.pop()!;
      await cleanup.run().catch((error: unknown) => process.stderr.write(`cleanup failed (${cleanup.what}): ${String(error)}\n`));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------

const perUnit = (cpu: CpuUsage, label: string, units: number, scale: number) => ((cpu.seconds[label] ?? 0) * scale) / Math.max(1, units);
const cpuLabelsOf = (rows: ProcessRow[]) => [...rows.map((row) => row.label), RECEIVER, 'postgres', SELF, OTHER];
const short = (label: string) => label.replace(' (this process)', '').replace(" (the system's own)", '').replace(' (S3 server, mail sink)', '');

function describeCpu(cpu: CpuUsage, units: number, scale: number, unit: string, rows: ProcessRow[]): string {
  return cpuLabelsOf(rows)
    .filter((label) => (cpu.percent[label] ?? 0) >= 0.5)
    .map((label) => `${short(label)} ${fmt(cpu.percent[label]!, 0)}% (${fmt(perUnit(cpu, label, units, scale), scale === 1e6 ? 0 : 2)} ${unit})`)
    .join(', ');
}

function describeReceived(received: ReceiverCounts | undefined, units: number, unit: string): string {
  if (!received) return '';
  return `; received ${received.spans} spans in ${received.requests} exports (${fmt(received.spans / Math.max(1, units), 2)} spans/${unit}, ${fmt(received.bytes / Math.max(1, received.spans), 0)} B/span on the wire) by service ${JSON.stringify(received.byService)}`;
}

function printSlice(slice: Slice): void {
  out(`  ${slice.configuration}, round ${slice.round} (load at start ${slice.loadAtStart}; other processes ${fmt(slice.otherPercent, 0)}% of one core)`);
  out(`    idle ${CONFIG.idleSeconds} s: CPU ${describeCpu(slice.idle.cpu, 1, 1e3, 'ms', slice.rows)}${describeReceived(slice.idle.received, 1, 'window')}`);
  if (slice.alone) out(`    alone: GET /v1/me ${slice.alone.me.spans} spans ${JSON.stringify(slice.alone.me.byService)}, one text job ${slice.alone.job.spans} spans ${JSON.stringify(slice.alone.job.byService)}`);
  const me = slice.me;
  out(`    GET /v1/me c=${CONFIG.connections}: ${fmt(me.requestsPerSecond, 0)} req/s, p50/p99 ${fmt(me.p50, 1)}/${fmt(me.p99, 1)} ms, non-2xx ${me.non2xx}, errors ${me.errors}${describeReceived(me.received, me.responses, 'req')}`);
  out(`      CPU: ${describeCpu(me.cpu, me.responses, 1e6, 'µs/req', slice.rows)}`);
  const jobs = slice.jobs;
  out(`    text jobs ${CONFIG.jobsInFlight} in flight: ${fmt(jobs.perSecond, 1)} jobs/s, p50/p99 ${fmt(jobs.p50, 1)}/${fmt(jobs.p99, 1)} ms, outcomes ${JSON.stringify(jobs.outcomes)}, ${fmt(jobs.calls / Math.max(1, jobs.done), 1)} HTTP requests/job${describeReceived(jobs.received, jobs.done, 'job')}`);
  if (jobs.firstFailure) out(`      first failure: ${jobs.firstFailure}`);
  out(`      CPU: ${describeCpu(jobs.cpu, jobs.done, 1e3, 'ms/job', slice.rows)}`);
  if (slice.scraped) out(`    prometheus: ${slice.scraped.up}/${slice.scraped.targets} targets up, ${slice.scraped.series} head series`);
  out(`    warn log lines ${slice.warnLines}, restarts ${slice.restarts}`);
}

function summarize(slices: Slice[]): void {
  const of = (configuration: Configuration) => slices.filter((slice) => slice.configuration === configuration);
  const a = of('A bare');
  const b = of('B observed');
  const med = (list: Slice[], value: (slice: Slice) => number) => median(list.map(value));
  const ratio = (value: (slice: Slice) => number) => med(b, value) / med(a, value);
  out();
  out(`summary: median over ${CONFIG.rounds} round(s) per configuration; ratio = B ÷ A`);
  out(`  ${pad('', 34)}${pad('A bare', 16)}${pad('B observed', 16)}ratio`);
  const lines: Array<[string, (slice: Slice) => number, number]> = [
    ['GET /v1/me req/s', (s) => s.me.requestsPerSecond, 0],
    ['GET /v1/me p50 ms', (s) => s.me.p50, 1],
    ['GET /v1/me p99 ms', (s) => s.me.p99, 1],
    ['text jobs/s', (s) => s.jobs.perSecond, 1],
    ['text job p50 ms', (s) => s.jobs.p50, 1],
    ['text job p99 ms', (s) => s.jobs.p99, 1],
  ];
  for (const [what, value, digits] of lines) out(`  ${pad(what, 34)}${pad(fmt(med(a, value), digits), 16)}${pad(fmt(med(b, value), digits), 16)}${fmt(ratio(value), 3)}`);
  out(`  per round (A → B): ${a.map((slice, index) => `me ${fmt(slice.me.requestsPerSecond, 0)}→${fmt(b[index]?.me.requestsPerSecond ?? Number.NaN, 0)}, jobs ${fmt(slice.jobs.perSecond, 1)}→${fmt(b[index]?.jobs.perSecond ?? Number.NaN, 1)}`).join('; ')}`);

  const rows = b[0]?.rows ?? a[0]!.rows;
  const labels = cpuLabelsOf(rows);
  out();
  out('CPU per request (µs, GET /v1/me) and per job (ms, text), by process; median over rounds');
  out(`  ${pad('process', 28)}${['me A', 'me B', 'job A', 'job B', 'idle A %', 'idle B %'].map((head) => head.padStart(10)).join('')}`);
  for (const label of labels) {
    const meOf = (list: Slice[]) => med(list, (s) => perUnit(s.me.cpu, label, s.me.responses, 1e6));
    const jobOf = (list: Slice[]) => med(list, (s) => perUnit(s.jobs.cpu, label, s.jobs.done, 1e3));
    const idleOf = (list: Slice[]) => med(list, (s) => s.idle.cpu.percent[label] ?? 0);
    out(`  ${pad(short(label), 28)}${[fmt(meOf(a), 0), fmt(meOf(b), 0), fmt(jobOf(a), 2), fmt(jobOf(b), 2), fmt(idleOf(a), 1), fmt(idleOf(b), 1)].map((cell) => cell.padStart(10)).join('')}`);
  }
  const totalOf = (cpu: CpuUsage) => labels.filter((label) => label !== OTHER).reduce((sum, label) => sum + (cpu.seconds[label] ?? 0), 0);
  out(
    `  ${pad('all of the above but other', 28)}${[
      fmt(med(a, (s) => (totalOf(s.me.cpu) * 1e6) / s.me.responses), 0),
      fmt(med(b, (s) => (totalOf(s.me.cpu) * 1e6) / s.me.responses), 0),
      fmt(med(a, (s) => (totalOf(s.jobs.cpu) * 1e3) / Math.max(1, s.jobs.done)), 2),
      fmt(med(b, (s) => (totalOf(s.jobs.cpu) * 1e3) / Math.max(1, s.jobs.done)), 2),
      fmt(med(a, (s) => (totalOf(s.idle.cpu) / s.idle.cpu.wall) * 100), 1),
      fmt(med(b, (s) => (totalOf(s.idle.cpu) / s.idle.cpu.wall) * 100), 1),
    ]
      .map((cell) => cell.padStart(10))
      .join('')}`,
  );

  out();
  out('resident memory, MB (VmRSS; idle = median over 2 s after start; after = 2 s after the load); median over rounds');
  out(`  ${pad('process', 28)}${['A idle', 'A after', 'B idle', 'B after'].map((head) => head.padStart(10)).join('')}`);
  const mbOf = (list: Slice[], label: string, which: 'idleRss' | 'afterRss') => {
    const values = list.map((s) => s[which].get(label)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return values.length === 0 ? '–' : fmt(median(values) / MB, 0);
  };
  for (const row of rows) out(`  ${pad(short(row.label), 28)}${[mbOf(a, row.label, 'idleRss'), mbOf(a, row.label, 'afterRss'), mbOf(b, row.label, 'idleRss'), mbOf(b, row.label, 'afterRss')].map((cell) => cell.padStart(10)).join('')}`);
  const sumOf = (list: Slice[], which: 'idleRss' | 'afterRss') => fmt(median(list.map((s) => [...s[which].values()].filter(Number.isFinite).reduce((sum, v) => sum + v, 0))) / MB, 0);
  out(`  ${pad('all processes', 28)}${[sumOf(a, 'idleRss'), sumOf(a, 'afterRss'), sumOf(b, 'idleRss'), sumOf(b, 'afterRss')].map((cell) => cell.padStart(10)).join('')}`);

  out();
  out('traces (B): spans received per request and bytes per span (OTLP/JSON as sent), median over rounds');
  const spans = (s: Slice, w: 'me' | 'jobs') => s[w].received?.spans ?? Number.NaN;
  const gateway = (s: Slice, w: 'me' | 'jobs') => s[w].received?.byService.gateway ?? Number.NaN;
  const alone = (w: 'me' | 'job') => fmt(med(b, (s) => s.alone?.[w].spans ?? Number.NaN), 0);
  out(`  sent alone: GET /v1/me ${alone('me')} spans, one text job ${alone('job')} spans (their POST, polls and download included)`);
  // Every HTTP request is one gateway server span: fewer received than answered means the exporters dropped some.
  out(
    `  GET /v1/me under load: ${fmt(med(b, (s) => spans(s, 'me') / s.me.responses), 2)} spans/req, gateway spans per answered request ${fmt(med(b, (s) => gateway(s, 'me') / s.me.responses), 3)}, ${fmt(med(b, (s) => s.me.received!.bytes / spans(s, 'me')), 0)} B/span, ${fmt(med(b, (s) => spans(s, 'me') / s.me.cpu.wall), 0)} spans/s, ${fmt(med(b, (s) => s.me.received!.bytes / s.me.cpu.wall / 1024), 0)} KiB/s in ${fmt(med(b, (s) => s.me.received!.requests / s.me.cpu.wall), 1)} exports/s`,
  );
  out(
    `  text jobs: ${fmt(med(b, (s) => spans(s, 'jobs') / Math.max(1, s.jobs.done)), 1)} spans/job, ${fmt(med(b, (s) => spans(s, 'jobs') / Math.max(1, s.jobs.calls)), 2)} spans per HTTP request, gateway spans per HTTP request ${fmt(med(b, (s) => gateway(s, 'jobs') / Math.max(1, s.jobs.calls)), 3)}, ${fmt(med(b, (s) => s.jobs.received!.bytes / spans(s, 'jobs')), 0)} B/span, ${fmt(med(b, (s) => spans(s, 'jobs') / s.jobs.cpu.wall), 0)} spans/s`,
  );
  out(`  idle: ${fmt(med(b, (s) => s.idle.received?.spans ?? Number.NaN), 0)} spans in ${CONFIG.idleSeconds} s`);
  const scraped = b.map((s) => s.scraped).filter((s): s is NonNullable<Slice['scraped']> => s !== undefined);
  if (scraped.length > 0) out(`  prometheus: ${scraped.map((s) => `${s.up}/${s.targets} up, ${s.series} series`).join('; ')}`);
  out(`  warn log lines ${slices.reduce((sum, s) => sum + s.warnLines, 0)}, restarts ${slices.reduce((sum, s) => sum + s.restarts, 0)}`);
  out(`  per slice: load average at start, other processes' CPU (% of one core): ${slices.map((s) => `${s.configuration[0]}${s.round} ${s.loadAtStart.split(' ')[0]} ${fmt(s.otherPercent, 0)}%`).join(', ')}`);
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  out(`observability outside bench ${RUN_ID} — Node ${process.version}, ${cpus().length} cores; load generator on the same cores; load average at start ${loadAverage()}`);
  out(`config: ${JSON.stringify(CONFIG)}`);
  if (CONFIG.build) {
    out('building services and supervisor (nx, cached)…');
    buildSystem();
  }
  const receiver = await startReceiver();
  cleanups.push({ what: 'stopping the OTLP receiver', run: () => receiver.stop() });
  out(`OTLP receiver ${receiver.url} (pid ${receiver.pid})`);
  const slices: Slice[] = [];
  const measured = async (configuration: Configuration, round: number): Promise<Slice> => {
    for (let attempt = 0; ; attempt++) {
      const slice = await runSlice(configuration, round, receiver);
      if (slice.otherPercent <= CONFIG.disturbedPercent || attempt >= CONFIG.retries) return slice;
      out(`    measuring again (${attempt + 1}/${CONFIG.retries}): other processes used ${fmt(slice.otherPercent, 0)}% of one core`);
    }
  };
  for (let round = 1; round <= CONFIG.rounds; round++) {
    slices.push(await measured('A bare', round));
    slices.push(await measured('B observed', round));
  }
  summarize(slices);
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

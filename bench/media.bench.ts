/**
 * Media uploads benchmark against the machine's real PostgreSQL and NATS (issue 4).
 *
 *   1. bare    — ImageTransformer.transform (the bare sharp transformation media runs) of
 *                one realistic 3000×2000 JPEG, N times, with the same in-flight count as
 *                the upload runs, in this process; images/s and CPU per image.
 *   2. http    — authenticated POST /v1/uploads (multipart) through the gateway → media
 *                (stream to temp → sniff → sharp → dHash moderation → S3 put to a local
 *                s3rver → PostgreSQL row + outbox → relay to JetStream), closed loop at each
 *                concurrency; images/s, latency p50/p99, every answer must be 201.
 *                Meanwhile media's `process_resident_memory_bytes` is scraped from its
 *                /metrics every 100 ms (peak vs. idle), CPU is accounted per process (and
 *                per thread kind inside media), and the gateway's and media's own request
 *                histograms split the latency into gateway and media time. Right before each
 *                upload run the bare transformation is measured again, and the goal's ratio
 *                uses that adjacent baseline: this VM's speed drifts by ±15 % over minutes.
 *   3. stages  — the stages of one upload timed alone, one at a time, from this process
 *                (sniff, transform, dHash, S3 put, PostgreSQL row + outbox commit), to show
 *                where the service time goes.
 *
 * The services run as separate processes, as the end-to-end harness starts them, with
 * NODE_ENV=production, LOG_LEVEL=warn and every rate limit of the gateway at its configured
 * maximum (1,000,000/min — RATE_LIMIT_WRITE_PER_MINUTE included: the limiter stays on the
 * path but never refuses for volume). s3rver runs in a child process of its own so its CPU
 * is counted apart. The load generator, gateway, media, identity, PostgreSQL, NATS and
 * s3rver all share the machine's cores; the bare baseline pays for none of them.
 *
 * Not part of `npm test`. Run from the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/media.bench.ts
 * Knobs are environment variables (see CONFIG). BENCH_PROFILE=1 also records CPU profiles
 * (main JS thread) of media and the gateway over the inspector during the first upload run;
 * throughput of such a run is lower and not for the results table.
 * A measured run during which other processes used more than 10 % of one core is repeated
 * (BENCH_RETRIES times at most); before each, the bench waits for no events/identity bench
 * and a nearly idle machine (BENCH_QUIET_WAIT_SECONDS, 20 minutes at most by default).
 * Everything it creates (one database, one namespace of streams and KV buckets, the
 * s3rver directory, temporary files) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import sharp from 'sharp';
import { ApiClient } from '@homiwork/api-client';
import { startMailSink, type MailSink } from '@homiwork/mail';
import { patternJpeg } from '@homiwork/media-fixtures';
import { ObjectStore } from '@homiwork/storage';
import { devSecrets, freePort, launchService, SERVICES, type LaunchedService } from '@homiwork/system-runner';
import { databaseUrl, randomId, TEST_NATS_URL, withAdminClient } from '@homiwork/testing';
import { ImageTransformer } from '../services/media/src/processing/image-transformer.js';
import { sniffUpload } from '../services/media/src/processing/sniff.js';
import { writeLimited } from '../services/media/src/usecases/store-upload/write-limited.js';
import { type Cleanup, type CpuProfile, frameName, InspectorSession, intEnv, machineBusyTicks, out, pidsNamed, type ProfileNode, runCleanups, sleep } from './support/bench-kit.js';

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------


const CONFIG = {
  /** In-flight uploads of the measured upload runs, comma-separated. */
  concurrency: (process.env.BENCH_CONCURRENCY ?? '2,4').split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value < 1 || value > 64) throw new Error(`BENCH_CONCURRENCY: bad value ${part}`);
    return value;
  }),
  /** In-flight transformations of the bare baseline (the goal compares at the same count as the first upload run). */
  bareConcurrency: intEnv('BENCH_BARE_CONCURRENCY', 2, 1, 64),
  /** Images per measured run (bare and each upload run), and discarded warm-ups before each. */
  images: intEnv('BENCH_IMAGES', 100, 4, 10_000),
  warmup: intEnv('BENCH_WARMUP_IMAGES', 8, 0, 1_000),
  /** Stage phase: repetitions of each stage (median reported). */
  stageReps: intEnv('BENCH_STAGE_REPS', 15, 1, 1_000),
  /** Memory sampling interval of media's /metrics. */
  sampleMs: intEnv('BENCH_SAMPLE_MS', 100, 10, 10_000),
  /** Subsets: bare,http,stages. */
  phases: new Set((process.env.BENCH_PHASES ?? 'bare,http,stages').split(',').map((part) => part.trim())),
  /** Extra environment of the media process only, `NAME=value` pairs separated by spaces (e.g. MALLOC_ARENA_MAX=2), for experiments. */
  mediaEnv: Object.fromEntries(
    (process.env.BENCH_MEDIA_ENV ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`BENCH_MEDIA_ENV: bad pair ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  ) as Record<string, string>,
  /** CPU profiles of media and the gateway during the first upload run (see header). */
  profile: process.env.BENCH_PROFILE === '1',
  profileDir: process.env.BENCH_PROFILE_DIR ?? '/tmp/media-bench-profiles',
  /** A measured run during which other processes used more than 10 % of one core is repeated, at most this often. */
  retries: intEnv('BENCH_RETRIES', 3, 0, 20),
  /** Before each measured run: wait up to this long for no other bench and a nearly idle machine. */
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 1_200, 0, 3_600),
  /** Hard limit for the whole run. */
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 2_400_000, 60_000, 7_200_000),
};
/** The gateway's configuration schema caps every per-minute limit at 1,000,000. */
const MAX_RATE_LIMIT = '1000000';
/** Goals of issue 4. */
const GOAL_RATIO = 0.7;
const GOAL_PEAK_RSS_MB = 300;
const IMAGE = { width: 3000, height: 2000, noise: 16, quality: 88 };
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------



function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);
const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const pad = (text: string, width: number): string => text.padEnd(width);
const mb = (bytes: number): string => `${fmt(bytes / MB, 0)} MB`;

const cleanups: Cleanup[] = [];

// ---------------------------------------------------------------------------------------
// CPU accounting from /proc: who used the cores during a run
// ---------------------------------------------------------------------------------------

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads, also those that ended) or of one thread. */
function ticksOf(statPath: string): number | undefined {
  try {
    const text = readFileSync(statPath, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}



/** Thread kinds of a Node process running sharp, by the thread's name. */
function threadKind(comm: string): string {
  if (comm === 'MainThread' || comm === 'node') return 'main thread (JS)';
  if (comm.startsWith('libvips')) return 'libvips workers';
  if (comm.startsWith('libuv')) return 'libuv pool (sharp/fs/crypto jobs)';
  if (comm.startsWith('V8')) return 'V8 workers (GC, compiler)';
  return 'other threads';
}

function threadTicks(pid: number): Map<string, number> {
  const byKind = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byKind;
  }
  for (const tid of tasks) {
    try {
      const kind = threadKind(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
      byKind.set(kind, (byKind.get(kind) ?? 0) + (ticksOf(`/proc/${pid}/task/${tid}/stat`) ?? 0));
    } catch {
      // Thread ended meanwhile.
    }
  }
  return byKind;
}

/** Another benchmark running would skew the numbers. */
function otherBenchmarkRunning(): string | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const match = /bench\/(events|identity)\.bench/.exec(readFileSync(`/proc/${entry}/cmdline`, 'utf8'));
      if (match) return `${match[1]}.bench`;
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

/** Waits until no other benchmark runs and the machine is nearly idle for 2 s; says so when it gives up. */
async function waitForQuietMachine(): Promise<void> {
  const deadline = performance.now() + CONFIG.quietWaitSeconds * 1000;
  let reported = false;
  for (;;) {
    const before = machineBusyTicks();
    await sleep(2_000);
    const busy = ((machineBusyTicks() - before) / CLOCK_TICKS / 2) * 100;
    const other = otherBenchmarkRunning();
    if (!other && busy < 15) return;
    if (performance.now() > deadline) {
      out(`  warning: machine still busy (${fmt(busy, 0)}% of one core${other ? `, ${other} running` : ''}) after ${CONFIG.quietWaitSeconds} s; measuring anyway`);
      return;
    }
    if (!reported) out(`  waiting for a quiet machine (${fmt(busy, 0)}% of one core busy${other ? `, ${other} running` : ''})…`);
    reported = true;
  }
}

type CpuGroups = Record<string, () => number[]>;
const OTHER = 'other processes';
/** Other processes' CPU (% of one core) above which a run measured someone else too. */
const DISTURBED_PERCENT = 10;
const SELF = 'load generator (this process)';

interface CpuUsage {
  /** % of one core per group over the window (200% = both cores). */
  percent: Record<string, number>;
  /** CPU seconds per group over the window. */
  seconds: Record<string, number>;
  /** CPU seconds of each thread kind of the detailed process. */
  threads: Record<string, number>;
  wall: number;
}

/** CPU used by each group of processes from now until stop(); `detail` is broken down by thread kind. */
function cpuWindow(groups: CpuGroups, detail?: () => number | undefined): { stop(): CpuUsage } {
  const started = performance.now();
  const selfStart = process.cpuUsage();
  const machineStart = machineBusyTicks();
  const before = new Map<number, number>();
  for (const pids of Object.values(groups)) for (const pid of pids()) before.set(pid, ticksOf(`/proc/${pid}/stat`) ?? 0);
  const detailPid = detail?.();
  const threadsBefore = detailPid ? threadTicks(detailPid) : new Map<string, number>();
  const processBefore = detailPid ? (ticksOf(`/proc/${detailPid}/stat`) ?? 0) : 0;
  return {
    stop() {
      const wall = (performance.now() - started) / 1000;
      const seconds: Record<string, number> = {};
      const self = process.cpuUsage(selfStart);
      seconds[SELF] = (self.user + self.system) / 1e6;
      for (const [group, pids] of Object.entries(groups)) {
        let ticks = 0;
        for (const pid of pids()) ticks += Math.max(0, (ticksOf(`/proc/${pid}/stat`) ?? 0) - (before.get(pid) ?? 0));
        seconds[group] = ticks / CLOCK_TICKS;
      }
      const machine = (machineBusyTicks() - machineStart) / CLOCK_TICKS;
      const ours = Object.values(seconds).reduce((sum, value) => sum + value, 0);
      seconds[OTHER] = Math.max(0, machine - ours);
      const threads: Record<string, number> = {};
      if (detailPid) {
        const after = threadTicks(detailPid);
        let sum = 0;
        for (const [kind, ticks] of after) {
          const delta = Math.max(0, ticks - (threadsBefore.get(kind) ?? 0)) / CLOCK_TICKS;
          threads[kind] = delta;
          sum += delta;
        }
        const whole = ((ticksOf(`/proc/${detailPid}/stat`) ?? 0) - processBefore) / CLOCK_TICKS;
        if (whole - sum > 0.005) threads['threads that ended meanwhile'] = whole - sum;
      }
      const percent = Object.fromEntries(Object.entries(seconds).map(([group, value]) => [group, (value / wall) * 100]));
      return { percent, seconds, threads, wall };
    },
  };
}

function describeCpu(usage: CpuUsage, images: number): string[] {
  const total = Object.values(usage.percent).reduce((sum, value) => sum + value, 0);
  const disturbed = (usage.percent[OTHER] ?? 0) > DISTURBED_PERCENT ? ' — DISTURBED by other processes, numbers not comparable' : '';
  const perImage = (seconds: number) => `${fmt((seconds * 1000) / images, 0)} ms`;
  const parts = Object.entries(usage.seconds)
    .filter(([, value]) => value / usage.wall >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([group, value]) => `${group} ${fmt(usage.percent[group] ?? 0, 0)}% (${perImage(value)})`);
  const lines = [`CPU, % of one core (200% = both) and CPU ms per image: ${parts.join(', ')}; machine total ${fmt(total, 0)}% (${perImage((total / 100) * usage.wall)})${disturbed}`];
  const threads = Object.entries(usage.threads)
    .filter(([, value]) => value > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, value]) => `${kind} ${perImage(value)}`);
  if (threads.length > 0) lines.push(`media by thread, CPU ms per image: ${threads.join(', ')}`);
  return lines;
}

// ---------------------------------------------------------------------------------------
// Prometheus text: values of the services' own metrics
// ---------------------------------------------------------------------------------------

/** Sum of every series of `name` whose labels include `labels`. */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const seen = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) seen.set(pair[1]!, pair[2]!);
    if (Object.entries(labels).every(([key, value]) => seen.get(key) === value)) sum += Number(match[3]);
  }
  return sum;
}

async function scrape(opsUrl: string): Promise<string> {
  const response = await fetch(`${opsUrl}/metrics`);
  if (!response.ok) throw new Error(`${opsUrl}/metrics answered ${response.status}`);
  return response.text();
}

function rssOfProc(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface RssSample {
  rss: number;
  heapTotal: number;
  external: number;
}

interface RssSampler {
  stop(): Promise<{ samples: number[]; peak: RssSample; procPeak: number; failures: number }>;
}

/**
 * Scrapes media's process_resident_memory_bytes every CONFIG.sampleMs (and /proc VmRSS
 * alongside, as a cross-check); keeps the V8 heap and external memory of the peak sample,
 * to tell JS memory from native (libvips, malloc) memory.
 */
function sampleRss(opsUrl: string, pid: number): RssSampler {
  const samples: number[] = [];
  let peak: RssSample = { rss: 0, heapTotal: 0, external: 0 };
  let procPeak = 0;
  let failures = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      try {
        const text = await scrape(opsUrl);
        const rss = metricValue(text, 'process_resident_memory_bytes', { service: 'media' });
        if (rss > 0) {
          samples.push(rss);
          if (rss > peak.rss) peak = { rss, heapTotal: metricValue(text, 'nodejs_heap_size_total_bytes'), external: metricValue(text, 'nodejs_external_memory_bytes') };
        } else failures++;
      } catch {
        failures++;
      }
      try {
        procPeak = Math.max(procPeak, rssOfProc(pid).rss);
      } catch {
        // Process gone: the run fails elsewhere.
      }
      await sleep(Math.max(0, CONFIG.sampleMs - (performance.now() - started)));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, peak, procPeak, failures };
    },
  };
}

/** RSS of a Node process that only starts (plain, and with the swc-node loader services run under), in MB. */
async function bareNodeRss(): Promise<{ plain: number; withLoader: number }> {
  const measure = (args: string[]) =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [...args, '-e', 'setTimeout(() => process.stdout.write(String(process.memoryUsage().rss)), 500)'], { cwd: repoRoot, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.once('exit', (code) => (code === 0 ? resolve(Number(text)) : reject(new Error(`probe exited with ${code}`))));
    });
  return { plain: await measure([]), withLoader: await measure(['--import', '@swc-node/register/esm-register']) };
}

// ---------------------------------------------------------------------------------------
// CPU profiles over the inspector (BENCH_PROFILE=1)
// ---------------------------------------------------------------------------------------



function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  const repo = /\/work\/main\/((?:libs|services)\/[^/]+)\//.exec(url);
  if (repo) return repo[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
}


/** Main-thread time of a profile: self time by package and by function, inclusive by package. */
function summarizeProfile(name: string, profile: CpuProfile, images: number, top = 12): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByArea = new Map<string, number>();
  const inclusiveByArea = new Map<string, number>();
  const selfByFrame = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    const leaf = byId.get(profile.samples[i]!)!;
    total += delta;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += delta;
      continue;
    }
    const area = areaOf(leaf.callFrame);
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + delta);
    const key = frameName(leaf.callFrame);
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + delta);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const stackArea = areaOf(byId.get(id)!.callFrame);
      if (seen.has(stackArea) || stackArea === '(root)') continue;
      seen.add(stackArea);
      inclusiveByArea.set(stackArea, (inclusiveByArea.get(stackArea) ?? 0) + delta);
    }
  }
  const busy = total - idle;
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, value]) => `      ${fmt((value / busy) * 100, 1).padStart(5)}%  ${fmt(value / 1000 / images, 1).padStart(5)} ms/image  ${key}`);
  return [
    `    ${name} main thread: ${fmt(busy / 1000, 0)} ms busy of ${fmt(total / 1000, 0)} ms sampled (${fmt((busy / total) * 100, 0)}% of one core, ${fmt(busy / 1000 / images, 1)} ms per image); sharp's pixel work runs on other threads and is not in here`,
    '    self time by package / area:',
    ...rows(selfByArea),
    '    inclusive time by package / area:',
    ...rows(inclusiveByArea),
    '    self time by function:',
    ...rows(selfByFrame),
  ];
}

async function profileDuring<T>(inspectorUrls: Map<string, string>, label: string, images: () => number, run: () => Promise<T>): Promise<T> {
  const sessions = new Map<string, InspectorSession>();
  for (const [name, url] of inspectorUrls) {
    const session = await InspectorSession.open(url);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 200 });
    await session.send('Profiler.start');
    sessions.set(name, session);
  }
  const result = await run();
  await mkdir(CONFIG.profileDir, { recursive: true });
  for (const [name, session] of sessions) {
    const { profile } = await session.send<{ profile: CpuProfile }>('Profiler.stop');
    session.close();
    const file = join(CONFIG.profileDir, `${label}.${name}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    out(`  profile of ${name}: ${file}`);
    for (const line of summarizeProfile(name, profile, images())) out(line);
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// The test image
// ---------------------------------------------------------------------------------------

/**
 * A 3000×2000 "photo": the fixtures' smooth pattern with deterministic luminance and some
 * chroma noise over it, so it is not trivially compressible (≈1.4 MB at quality 88), made
 * once per run. Decoding and re-encoding it costs what a phone picture of that size does.
 */
async function realisticJpeg(dir: string): Promise<string> {
  const base = await patternJpeg(dir, 'pattern.jpg', 'a', { width: IMAGE.width, height: IMAGE.height });
  const { data, info } = await sharp(base).raw().toBuffer({ resolveWithObject: true });
  let state = 0x2545f491;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  for (let i = 0; i < data.length; i += info.channels) {
    const luminance = (random() + random() - 1) * IMAGE.noise;
    for (let c = 0; c < 3; c++) data[i + c] = Math.max(0, Math.min(255, Math.round(data[i + c]! + luminance + (random() - 0.5) * IMAGE.noise * 0.3)));
  }
  const path = join(dir, 'photo.jpg');
  await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: IMAGE.quality }).toFile(path);
  return path;
}

/** The multipart body a browser sends for one file in the field `file`, built once. */
function multipartBody(bytes: Buffer, filename: string, type: string): { body: Buffer; contentType: string } {
  const boundary = `----benchboundary${randomId(8)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, bytes, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---------------------------------------------------------------------------------------
// Closed loops
// ---------------------------------------------------------------------------------------

interface LoopResult {
  done: number;
  wall: number;
  perSecond: number;
  latencies: number[];
  p50: number;
  p99: number;
  max: number;
  outcomes: Record<string, number>;
  firstFailure?: string;
}

/** `concurrency` workers take the next of `count` jobs until none is left; latencies in ms. */
async function closedLoop(concurrency: number, count: number, job: (index: number, worker: number) => Promise<{ ok: boolean; outcome: string; detail?: string }>): Promise<LoopResult> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let next = 0;
  let done = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_unused, worker) => {
      while (next < count) {
        const index = next++;
        const t0 = performance.now();
        let result: { ok: boolean; outcome: string; detail?: string };
        try {
          result = await job(index, worker);
        } catch (error) {
          result = { ok: false, outcome: `threw ${(error as Error).name}`, detail: String(error) };
        }
        outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
        if (result.ok) {
          done++;
          latencies.push(performance.now() - t0);
        } else firstFailure ??= `${result.outcome}: ${result.detail ?? ''}`.slice(0, 400);
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    done,
    wall,
    perSecond: done / wall,
    latencies,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    outcomes,
    ...(firstFailure ? { firstFailure } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// The system under test
// ---------------------------------------------------------------------------------------

interface LocalS3Process {
  url: string;
  bucket: string;
  child: ChildProcess;
}

/** startLocalS3 of @homiwork/storage, as the tests use it, but in a child process so its CPU is counted apart. */
async function startS3Process(): Promise<LocalS3Process> {
  const script = `
    import { startLocalS3 } from '@homiwork/storage';
    const s3 = await startLocalS3();
    process.stdout.write('S3 ' + s3.url + ' ' + s3.config.bucket + '\\n');
    process.on('SIGTERM', () => void s3.stop().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push({
    what: 'stopping s3rver',
    run: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  });
  return new Promise<LocalS3Process>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 30 s')), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^S3 (\S+) (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, bucket: match[2]!, child });
      }
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
}

interface System {
  gateway: string;
  gatewayOps: string;
  mediaOps: string;
  services: Map<string, LaunchedService>;
  logs: string[];
  inspectorUrls: Map<string, string>;
}

async function startSystem(database: string, s3: LocalS3Process, mail: MailSink, mediaTmp: string): Promise<System> {
  const secrets = devSecrets();
  const logs: string[] = [];
  const inspectorUrls = new Map<string, string>();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl(database),
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: RUN_ID,
    SMTP_URL: mail.smtpUrl,
    S3_URL: s3.url,
    S3_BUCKET: s3.bucket,
    MEDIA_TMP_DIR: mediaTmp,
    ...secrets,
    DOWNSTREAM_SERVICES: 'identity,media',
    ACCESS_TOKEN_TTL_SECONDS: '900',
    RATE_LIMIT_AUTH_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_READ_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_WRITE_PER_MINUTE: MAX_RATE_LIMIT,
  };
  const services = new Map<string, LaunchedService>();
  cleanups.push({ what: 'stopping the services', run: () => Promise.all([...services.values()].map((service) => service.stop())) });
  let gateway = '';
  let gatewayOps = '';
  let mediaOps = '';
  for (const entry of SERVICES) {
    const opsPort = await freePort();
    const extra: NodeJS.ProcessEnv = { OPS_PORT: String(opsPort), SERVICE_NAME: entry.name };
    if (CONFIG.profile && entry.name !== 'identity') extra.NODE_OPTIONS = '--inspect=127.0.0.1:0';
    if (entry.name === 'media') {
      mediaOps = env.MEDIA_INTERNAL_URL = `http://127.0.0.1:${opsPort}`;
      Object.assign(extra, CONFIG.mediaEnv);
    }
    if (entry.name === 'gateway') {
      const httpPort = await freePort();
      extra.HTTP_PORT = String(httpPort);
      gateway = `http://127.0.0.1:${httpPort}`;
      gatewayOps = `http://127.0.0.1:${opsPort}`;
    }
    const service = launchService(entry.name, entry.main, { ...env, ...extra }, (from, line) => {
      const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (inspector) inspectorUrls.set(from, inspector[1]!);
      else if (!/For help, see|Debugger attached|Waiting for the debugger/.test(line)) logs.push(`[${from}] ${line}`);
    });
    services.set(entry.name, service);
    try {
      await service.waitUntilReady(opsPort);
    } catch (error) {
      throw new Error(`${entry.name} did not start: ${String(error)}\n${logs.slice(-20).join('\n')}`);
    }
  }
  return { gateway, gatewayOps, mediaOps, services, logs, inspectorUrls };
}

/** Registers `count` users; returns a function that logs them all in (fresh 15-minute tokens). */
async function createUsers(gateway: string, count: number): Promise<() => Promise<string[]>> {
  const api = new ApiClient({ baseUrl: gateway });
  const logins: string[] = [];
  for (let index = 0; index < count; index++) {
    const tag = `${RUN_ID}${index}`;
    await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
    logins.push(`bench_${tag}`);
  }
  return async () => {
    const tokens: string[] = [];
    for (const login of logins) tokens.push((await api.accounts.login({ login, password: PASSWORD })).accessToken);
    return tokens;
  };
}

// ---------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------

interface BareResult {
  transform: LoopResult;
  transformCpuMs: number;
  disturbed: boolean;
  sharpWork: LoopResult;
  sharpWorkCpuMs: number;
  output: { width: number; height: number; bytes: number };
}

type Job = (index: number, worker: number) => Promise<{ ok: boolean; outcome: string; detail?: string }>;

/** The bare jobs, run in this process: the transformation alone, and all of media's sharp work. */
function bareJobs(photo: string, workDir: string): { transform: Job; sharpWork: Job; output: () => { width: number; height: number; bytes: number } } {
  const images = new ImageTransformer();
  const outputs = Array.from({ length: 64 }, (_unused, worker) => join(workDir, `bare-${worker}.webp`));
  let output = { width: 0, height: 0, bytes: 0 };
  return {
    transform: async (_index, worker) => {
      output = await images.transform(photo, outputs[worker]!);
      return { ok: true, outcome: 'ok' };
    },
    // What media does with sharp per image: transform (with its header read), then dHash of the output (with another).
    sharpWork: async (_index, worker) => {
      await images.transform(photo, outputs[worker]!);
      await images.dHash(outputs[worker]!);
      return { ok: true, outcome: 'ok' };
    },
    output: () => output,
  };
}

interface BareRun {
  result: LoopResult;
  /** CPU of this process per image. */
  cpuMs: number;
  /** % of one core other processes used meanwhile. */
  other: number;
}

/** One bare measurement (warm-ups, then CONFIG.images at CONFIG.bareConcurrency), printed as one line. */
async function bareRun(label: string, job: Job): Promise<BareRun> {
  const c = CONFIG.bareConcurrency;
  if (CONFIG.warmup > 0) await closedLoop(c, CONFIG.warmup, job);
  const window = cpuWindow({});
  const result = await closedLoop(c, CONFIG.images, job);
  const usage = window.stop();
  const cpuMs = ((usage.seconds[SELF] ?? 0) * 1000) / result.done;
  const other = usage.percent[OTHER] ?? 0;
  out(
    `  ${pad(label, 58)} ${fmt(result.perSecond, 2).padStart(6)} images/s  p50 ${fmt(result.p50, 0).padStart(4)} ms  p99 ${fmt(result.p99, 0).padStart(4)} ms  CPU ${fmt(cpuMs, 0)} ms/image  (this process ${fmt(usage.percent[SELF] ?? 0, 0)}%, others ${fmt(other, 0)}%)`,
  );
  return { result, cpuMs, other };
}

async function barePhase(photo: string, workDir: string): Promise<BareResult> {
  const jobs = bareJobs(photo, workDir);
  out(`bare sharp in this process (sharp.concurrency(1), cache off, as media configures it), ${CONFIG.bareConcurrency} in flight, ${CONFIG.warmup} warm-ups then ${CONFIG.images} images`);
  const measure = async (label: string, job: Job): Promise<[LoopResult, number, boolean]> => {
    for (let attempt = 0; ; attempt++) {
      await waitForQuietMachine();
      const { result, cpuMs, other } = await bareRun(label, job);
      const disturbed = other > DISTURBED_PERCENT;
      if (!disturbed) return [result, cpuMs, false];
      if (attempt >= CONFIG.retries) {
        out(`        DISTURBED: other processes used ${fmt(other, 0)}% of one core; no retries left`);
        return [result, cpuMs, true];
      }
      out(`        DISTURBED: other processes used ${fmt(other, 0)}% of one core; measuring again (${attempt + 1}/${CONFIG.retries})`);
    }
  };
  const [transform, transformCpuMs, transformDisturbed] = await measure('ImageTransformer.transform (the baseline)', jobs.transform);
  const output = jobs.output();
  out(`    output ${output.width}×${output.height} WebP, ${fmt(output.bytes / 1024, 0)} KB`);
  const [sharpWork, sharpWorkCpuMs] = await measure('transform + dHash of the output (all sharp work of media)', jobs.sharpWork);
  return { transform, transformCpuMs, disturbed: transformDisturbed, sharpWork, sharpWorkCpuMs, output };
}

interface UploadRun {
  concurrency: number;
  loop: LoopResult;
  cpu: CpuUsage;
  rss: { idleBefore: number; peak: RssSample; procPeak: number; idleAfter: number; samples: number; failures: number };
  gatewayMeanMs: number;
  mediaMeanMs: number;
  /** The bare transformation measured right before this run (the machine's speed drifts by ±15 % over minutes). */
  bare: BareRun;
  disturbed: boolean;
}

async function uploadPhase(system: System, login: () => Promise<string[]>, photoBytes: Buffer, bareJob: Job, cpuGroups: CpuGroups, mediaPid: number, idleRss: number): Promise<{ runs: UploadRun[]; uploaded: number }> {
  const { body, contentType } = multipartBody(photoBytes, 'photo.jpg', 'image/jpeg');
  const url = `${system.gateway}/v1/uploads`;
  let tokens: string[] = [];
  const upload = async (_index: number, worker: number) => {
    const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${tokens[worker % tokens.length]!}`, 'content-type': contentType }, body });
    const text = await response.text();
    return { ok: response.status === 201, outcome: String(response.status), detail: text };
  };
  const histogram = (text: string, route: string) => ({
    sum: metricValue(text, 'http_request_duration_seconds_sum', { method: 'POST', route }),
    count: metricValue(text, 'http_request_duration_seconds_count', { method: 'POST', route }),
  });
  const runs: UploadRun[] = [];
  let uploaded = 0;
  out(`POST /v1/uploads through the gateway (multipart, ${fmt(body.length / MB, 2)} MB body), closed loop, ${CONFIG.warmup} warm-ups then ${CONFIG.images} uploads per line; latency of 201 answers`);
  for (const [position, concurrency] of CONFIG.concurrency.entries()) {
    for (let attempt = 0; ; attempt++) {
      await waitForQuietMachine();
      // Access tokens live 15 minutes at most, and waiting for a quiet machine can take longer.
      tokens = await login();
      // The baseline right before the run, in the same minute: this VM's speed drifts between runs.
      const bare = await bareRun(`bare ImageTransformer.transform, ${CONFIG.bareConcurrency} in flight (baseline of the next line)`, bareJob);
      if (CONFIG.warmup > 0) {
        const warm = await closedLoop(concurrency, CONFIG.warmup, upload);
        uploaded += warm.done;
        if (warm.done !== CONFIG.warmup) throw new Error(`warm-up uploads failed: ${JSON.stringify(warm.outcomes)}; first: ${warm.firstFailure}`);
      }
      await sleep(1_000);
      const [gatewayBefore, mediaBefore] = await Promise.all([scrape(system.gatewayOps), scrape(system.mediaOps)]);
      const window = cpuWindow(cpuGroups, () => mediaPid);
      const sampler = sampleRss(system.mediaOps, mediaPid);
      const measured = () => closedLoop(concurrency, CONFIG.images, upload);
      const loop = CONFIG.profile && position === 0 ? await profileDuring(system.inspectorUrls, `uploads-c${concurrency}`, () => CONFIG.images, measured) : await measured();
      uploaded += loop.done;
      const rss = await sampler.stop();
      const cpu = window.stop();
      const [gatewayAfter, mediaAfter] = await Promise.all([scrape(system.gatewayOps), scrape(system.mediaOps)]);
      const mean = (before: { sum: number; count: number }, after: { sum: number; count: number }) => ((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1000;
      const gatewayMeanMs = mean(histogram(gatewayBefore, '/v1/uploads'), histogram(gatewayAfter, '/v1/uploads'));
      const mediaMeanMs = mean(histogram(mediaBefore, '/internal/uploads'), histogram(mediaAfter, '/internal/uploads'));
      // Memory a few seconds after the load: does media give it back?
      await sleep(3_000);
      const after = sampleRss(system.mediaOps, mediaPid);
      await sleep(1_000);
      const idleAfter = median((await after.stop()).samples);
      const run: UploadRun = {
        concurrency,
        loop,
        cpu,
        rss: { idleBefore: idleRss, peak: rss.peak, procPeak: rss.procPeak, idleAfter, samples: rss.samples.length, failures: rss.failures },
        gatewayMeanMs,
        mediaMeanMs,
        bare,
        disturbed: (cpu.percent[OTHER] ?? 0) > DISTURBED_PERCENT || bare.other > DISTURBED_PERCENT,
      };
      const meanMs = loop.latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, loop.latencies.length);
      out(
        `  c=${concurrency}  ${fmt(loop.perSecond, 2).padStart(6)} images/s  p50 ${fmt(loop.p50, 0)} ms  p99 ${fmt(loop.p99, 0)} ms  max ${fmt(loop.max, 0)} ms  answers ${Object.entries(loop.outcomes)
          .map(([status, count]) => `${status}×${count}`)
          .join(', ')}`,
      );
      if (loop.firstFailure) out(`        first failure: ${loop.firstFailure}`);
      out(`        whole path / bare of the line above = ${fmt(loop.perSecond / bare.result.perSecond, 2)}`);
      out(
        `        mean latency: client ${fmt(meanMs, 0)} ms, gateway's histogram ${fmt(gatewayMeanMs, 0)} ms, media's /internal/uploads ${fmt(mediaMeanMs, 0)} ms → gateway + client + loopback ${fmt(meanMs - mediaMeanMs, 0)} ms of it`,
      );
      out(
        `        media RSS (process_resident_memory_bytes, ${rss.samples.length} samples every ${CONFIG.sampleMs} ms, ${rss.failures} failed): idle before ${mb(idleRss)}, peak ${mb(rss.peak.rss)} (V8 heap ${mb(rss.peak.heapTotal)}, external ${mb(rss.peak.external)} then; /proc VmRSS peak ${mb(rss.procPeak)}), ${mb(idleAfter)} 3 s after`,
      );
      for (const line of describeCpu(cpu, loop.done)) out(`        ${line}`);
      if (!run.disturbed || attempt >= CONFIG.retries) {
        runs.push(run);
        break;
      }
      out(`        measuring c=${concurrency} again (${attempt + 1}/${CONFIG.retries}): other processes used ${fmt(cpu.percent[OTHER] ?? 0, 0)}% of one core (${fmt(bare.other, 0)}% during its baseline)`);
    }
  }
  return { runs, uploaded };
}

interface Stage {
  label: string;
  run: (rep: number) => Promise<unknown>;
}

/** The stages of one upload, timed alone (one at a time, services idle), medians of CONFIG.stageReps. */
async function stagesPhase(photo: string, workDir: string, s3: LocalS3Process, database: string): Promise<Array<{ label: string; median: number; p90: number }>> {
  const images = new ImageTransformer();
  const photoBytes = await readFile(photo);
  const webp = join(workDir, 'stage.webp');
  const transformed = await images.transform(photo, webp);
  const { parseS3Url } = await import('@homiwork/storage');
  const store = new ObjectStore({ ...parseS3Url(s3.url, s3.bucket), region: 'us-east-1' }, { service: 'bench' });
  const owner = randomUUID();
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  cleanups.push({ what: 'closing the stage PostgreSQL client', run: () => client.end() });
  // Copies of media's tables (same columns, indexes and constraints; no trigger, so media's relay is not woken).
  await client.query('CREATE TABLE public.bench_uploads (LIKE media.uploads INCLUDING ALL)');
  await client.query('CREATE TABLE public.bench_outbox (LIKE media.outbox INCLUDING ALL)');
  const stages: Stage[] = [
    {
      label: 'stream 1.4 MB body to a temp file (writeLimited)',
      run: (rep) => writeLimited(Readable.from([photoBytes]), join(workDir, `body-${rep}`), 200 * MB),
    },
    { label: 'sniffUpload (file-type on the temp file)', run: () => sniffUpload(photo, { filename: 'photo.jpg', contentType: 'image/jpeg' }) },
    { label: 'ImageTransformer.transform (header read + sharp)', run: (rep) => images.transform(photo, join(workDir, `t-${rep}.webp`)) },
    {
      label: '  of which: the same decode + resize, raw output (no WebP)',
      run: () =>
        sharp(photo, { failOn: 'error', sequentialRead: true, pages: 1, page: 0 })
          .autoOrient()
          .resize({ width: 1536, height: 1536, fit: 'inside', withoutEnlargement: true })
          .toColourspace('srgb')
          .raw()
          .toBuffer(),
    },
    { label: '  of which: header read alone (metadata)', run: () => sharp(photo, { failOn: 'error', sequentialRead: true, pages: 1, page: 0 }).metadata() },
    { label: 'ImageTransformer.dHash of the output (header read + decode)', run: () => images.dHash(webp) },
    {
      label: `ObjectStore.put of the ${fmt(transformed.bytes / 1024, 0)} KB WebP to s3rver`,
      run: () => store.put(owner, `uploads/${randomUUID()}`, createReadStream(webp), { size: transformed.bytes, contentType: 'image/webp' }),
    },
    {
      label: 'PostgreSQL: BEGIN, upload row, outbox row, COMMIT',
      run: async () => {
        const id = randomUUID();
        const now = new Date();
        await client.query('BEGIN');
        await client.query(
          'INSERT INTO public.bench_uploads (id, user_id, kind, mime_type, bytes, width, height, object_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
          [id, owner, 'image', 'image/webp', transformed.bytes, transformed.width, transformed.height, `media/${owner}/uploads/${id}`, now, new Date(now.getTime() + 7 * 86_400_000)],
        );
        await client.query('INSERT INTO public.bench_outbox (id, type, subject, payload, occurred_at) VALUES ($1, $2, $3, $4, $5)', [
          randomUUID(),
          'UploadStored.v1',
          `${RUN_ID}.bench`,
          JSON.stringify({ userId: owner, uploadId: id, kind: 'image', storedAt: now.toISOString(), expiresAt: now.toISOString() }),
          now,
        ]);
        await client.query('COMMIT');
      },
    },
  ];
  out(`stages of one upload, timed alone from this process, one at a time, services idle; median (p90) of ${CONFIG.stageReps} after 2 warm-ups`);
  await waitForQuietMachine();
  const window = cpuWindow({});
  const results: Array<{ label: string; median: number; p90: number }> = [];
  for (const stage of stages) {
    for (let i = 0; i < 2; i++) await stage.run(-1 - i);
    const samples: number[] = [];
    for (let rep = 0; rep < CONFIG.stageReps; rep++) {
      const t0 = performance.now();
      await stage.run(rep);
      samples.push(performance.now() - t0);
    }
    samples.sort((a, b) => a - b);
    const result = { label: stage.label, median: percentile(samples, 50), p90: percentile(samples, 90) };
    results.push(result);
    out(`  ${pad(stage.label, 60)} ${fmt(result.median, 1).padStart(7)} ms (${fmt(result.p90, 1)})`);
  }
  const sum = results.filter((result) => !result.label.startsWith(' ')).reduce((total, result) => total + result.median, 0);
  out(`  ${pad('sum of the stages', 60)} ${fmt(sum, 1).padStart(7)} ms`);
  const other = window.stop().percent[OTHER] ?? 0;
  if (other > DISTURBED_PERCENT) out(`  DISTURBED: other processes (services included) used ${fmt(other, 0)}% of one core meanwhile`);
  return results;
}

/** The commit the services run from, and whether libs/ or services/ differ from it. */
function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'libs', 'services'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    return `${head}${dirty ? ' with uncommitted changes in libs/ or services/' : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  out(`media bench ${RUN_ID} — Node ${process.version}, sharp ${sharp.versions.sharp}/libvips ${sharp.versions.vips}, ${cpus().length} cores; load generator on the same cores`);
  out(`config: ${JSON.stringify({ ...CONFIG, phases: [...CONFIG.phases] })}`);
  out(`code: ${gitRevision()}`);
  const workDir = await mkdtemp(join(tmpdir(), 'media-bench-'));
  cleanups.push({ what: `removing ${workDir}`, run: () => rm(workDir, { recursive: true, force: true }) });
  const photo = await realisticJpeg(workDir);
  const photoBytes = await readFile(photo);
  const meta = await sharp(photo).metadata();
  out(`test image: ${meta.width}×${meta.height} JPEG q${IMAGE.quality}, ${fmt(photoBytes.length / MB, 2)} MB (pattern + noise, generated once)`);
  out();

  let bare: BareResult | undefined;
  if (CONFIG.phases.has('bare')) {
    bare = await barePhase(photo, workDir);
    out();
  }
  if (!CONFIG.phases.has('http') && !CONFIG.phases.has('stages')) return;

  const database = `${RUN_ID}_media`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${database}"`));
  cleanups.push({ what: `dropping database ${database}`, run: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)) });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'media-bench' });
  cleanups.push({ what: 'closing the NATS connection', run: () => nc.close() });
  cleanups.push({
    what: `deleting the streams and KV buckets of ${RUN_ID}`,
    run: async () => {
      const jsm = await jetstreamManager(nc);
      const ns = RUN_ID.toUpperCase();
      const names: string[] = [];
      for await (const name of jsm.streams.names()) if (name.includes(ns)) names.push(name);
      await Promise.all(names.map((name) => jsm.streams.delete(name)));
    },
  });
  const mediaTmp = join(workDir, 'media-tmp');
  const mail = await startMailSink();
  cleanups.push({ what: 'stopping the mail sink', run: () => mail.stop() });
  const s3 = await startS3Process();
  const startedAt = performance.now();
  const system = await startSystem(database, s3, mail, mediaTmp);
  const mediaPid = system.services.get('media')!.child.pid!;
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s: identity, media, 1 gateway (${system.gateway}), s3rver child; NODE_ENV=production, LOG_LEVEL=warn, every gateway rate limit (RATE_LIMIT_WRITE_PER_MINUTE included) ${MAX_RATE_LIMIT}/min`);
  const users = Math.max(...CONFIG.concurrency);
  const login = await createUsers(system.gateway, users);
  out(`${users} users registered (one per in-flight upload; logged in again before each run)`);

  // Idle memory of media, before any upload.
  await sleep(2_000);
  const idleSampler = sampleRss(system.mediaOps, mediaPid);
  await sleep(2_000);
  const idleRss = median((await idleSampler.stop()).samples);
  const idleOf = (name: string) => mb(rssOfProc(system.services.get(name)!.child.pid!).rss);
  const probe = await bareNodeRss();
  out(`media RSS idle before any upload: ${mb(idleRss)} (VmRSS now: media ${idleOf('media')}, gateway ${idleOf('gateway')}, identity ${idleOf('identity')}; a Node process that only starts: ${mb(probe.plain)} plain, ${mb(probe.withLoader)} with --import @swc-node/register/esm-register as the services run)`);
  if (Object.keys(CONFIG.mediaEnv).length > 0) out(`media runs with extra environment ${JSON.stringify(CONFIG.mediaEnv)}`);
  out();

  const cpuGroups: CpuGroups = {
    media: () => [mediaPid],
    gateway: () => [system.services.get('gateway')!.child.pid!],
    identity: () => [system.services.get('identity')!.child.pid!],
    's3rver (child)': () => (s3.child.pid ? [s3.child.pid] : []),
    postgres: () => pidsNamed('postgres'),
    'nats-server': () => pidsNamed('nats-server'),
  };
  let runs: UploadRun[] = [];
  if (CONFIG.phases.has('http')) {
    const phase = await uploadPhase(system, login, photoBytes, bareJobs(photo, workDir).transform, cpuGroups, mediaPid, idleRss);
    runs = phase.runs;
    out();
    // Every 201 is a row, an object and an event: check the row count and that the relay published them all.
    const expected = phase.uploaded;
    const client = new pg.Client({ connectionString: databaseUrl(database) });
    await client.connect();
    const count = async (table: string) => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM media.${table}`)).rows[0]!.n);
    const deadline = performance.now() + 15_000;
    let published = 0;
    let backlog = Number.NaN;
    while (performance.now() < deadline) {
      published = metricValue(await scrape(system.mediaOps), 'events_published_total', { event: 'UploadStored.v1' });
      backlog = await count('outbox');
      if (published >= expected && backlog === 0) break;
      await sleep(250);
    }
    const rows = await count('uploads');
    await client.end();
    const leftInTmp = (await readdir(mediaTmp).catch(() => [])).length;
    out(`check: ${expected} uploads answered 201; media.uploads rows ${rows}; UploadStored.v1 relayed to JetStream ${published}; outbox rows not yet relayed ${backlog}; entries left in MEDIA_TMP_DIR ${leftInTmp}`);
    out();
  }
  if (CONFIG.phases.has('stages')) {
    await stagesPhase(photo, workDir, s3, database);
    out();
  }

  if (runs.length > 0) {
    out('summary');
    if (bare) {
      out(
        `  bare ImageTransformer.transform, ${CONFIG.bareConcurrency} in flight: ${fmt(bare.transform.perSecond, 2)} images/s (${fmt(bare.transformCpuMs, 0)} ms CPU/image); with dHash (all of media's sharp work): ${fmt(bare.sharpWork.perSecond, 2)} images/s (${fmt(bare.sharpWorkCpuMs, 0)} ms CPU/image)`,
      );
    }
    for (const run of runs) {
      // The goal's ratio uses the baseline measured right before the run; the one of the bare phase is shown too.
      const ratio = run.loop.perSecond / run.bare.result.perSecond;
      const ratioFirst = bare ? run.loop.perSecond / bare.transform.perSecond : Number.NaN;
      const ratioSharp = bare ? run.loop.perSecond / bare.sharpWork.perSecond : Number.NaN;
      const all201 = run.loop.done === CONFIG.images;
      const note = run.disturbed ? ' — DISTURBED by other processes, not comparable' : '';
      const cpuTotal = Object.values(run.cpu.seconds).reduce((sum, value) => sum + value, 0);
      out(
        `  c=${run.concurrency}: ${fmt(run.loop.perSecond, 2)} images/s, p50 ${fmt(run.loop.p50, 0)} ms, p99 ${fmt(run.loop.p99, 0)} ms, all 201: ${all201 ? 'yes' : 'NO'}; baseline right before ${fmt(run.bare.result.perSecond, 2)} images/s (${fmt(run.bare.cpuMs, 0)} ms CPU/image); whole path / bare = ${fmt(ratio, 2)} (goal ≥ ${GOAL_RATIO}: ${ratio >= GOAL_RATIO ? 'met' : 'MISSED'}); / bare phase's transform ${fmt(ratioFirst, 2)}, / its sharp work ${fmt(ratioSharp, 2)}; machine CPU ${fmt((cpuTotal * 1000) / run.loop.done, 0)} ms/image${note}`,
      );
      out(`        media RSS peak ${mb(run.rss.peak.rss)} (idle ${mb(run.rss.idleBefore)}, /proc peak ${mb(run.rss.procPeak)}): goal ≤ ${GOAL_PEAK_RSS_MB} MB ${run.rss.peak.rss <= GOAL_PEAK_RSS_MB * MB ? 'met' : 'MISSED'}`);
    }
    const hwm = rssOfProc(mediaPid).hwm;
    out(`  media VmHWM (peak RSS since start, startup included): ${mb(hwm)}`);
  }
  const problems = system.logs.filter((line) => /"level":(40|50|60)/.test(line));
  out(`service log lines at warn or above: ${problems.length}${problems.length > 0 ? `; last: ${problems.at(-1)!.slice(0, 300)}` : ''}`);
}

let failed = false;
const overall = setTimeout(() => {
  process.stderr.write(`bench exceeded ${CONFIG.totalTimeoutMs} ms; cleaning up\n`);
  failed = true;
  void runCleanups(cleanups).then(() => process.exit(2));
}, CONFIG.totalTimeoutMs);

// Interrupted (Ctrl-C, `timeout`): remove what was created before leaving, as on failure.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench interrupted (${signal}); cleaning up\n`);
    failed = true;
    void runCleanups(cleanups).then(() => process.exit(130));
  });
}


try {
  await main();
} catch (error) {
  failed = true;
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await runCleanups(cleanups);
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);

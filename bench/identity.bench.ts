/**
 * Identity + gateway benchmark against the machine's real PostgreSQL and NATS.
 *
 *   1. argon2   — one Argon2id hash / verify with the production parameters (ARGON2_OPTIONS).
 *   2. http     — autocannon (keep-alive, fixed connections = in-flight requests) against
 *                 a bare Fastify server (baseline, child process), the gateway's public
 *                 GET /health/live (edge + Nest, no NATS), and GET /v1/me (JWT verify →
 *                 NATS KV rate limiter → NATS request/reply → identity → PostgreSQL), both
 *                 for one user from one address and spread over many users/addresses
 *                 (saturated), and spread with a few connections (latency below saturation).
 *   3. hops     — the hops of GET /v1/me called directly from this process over NATS
 *                 (identity RPC, billing RPC with no responder, KV rate limiter, JWT verify).
 *
 * The services run as separate processes, as the end-to-end harness starts them, with
 * NODE_ENV=production, LOG_LEVEL=warn and every rate limit at its configured maximum
 * (1,000,000/min — the limiter stays on the path but never refuses for volume).
 * The load generator runs on the same machine (same cores) as everything it measures.
 * Each run waits for a quiet machine (no events.bench, < 15% of one core busy) and is
 * measured again when other processes used > 10% of one core meanwhile; every line reports
 * the CPU of each process (and per request), so the bottleneck shows.
 *
 * Not part of `npm test`. Run from the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/identity.bench.ts
 * Knobs are environment variables (see CONFIG). BENCH_PROFILE=1 also records CPU profiles
 * of the gateway and identity (over the inspector) during each /v1/me run and prints where
 * the time goes; throughput numbers of such a run are lower and not for the results table.
 * Everything it creates (one database, one namespace of streams and KV buckets) is removed
 * at the end, also on failure.
 */
import 'reflect-metadata';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { hash, verify } from '@node-rs/argon2';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import autocannon from 'autocannon';
import { AccessTokenVerifier } from '@homiwork/auth';
import { ApiClient } from '@homiwork/api-client';
import { SystemClock } from '@homiwork/clock';
import { BillingRpc, DEAD_LETTER_STREAM, EVENTS_STREAM, IdentityRpc, streamName } from '@homiwork/contracts';
import { startMailSink, type MailSink } from '@homiwork/mail';
import { RpcClient } from '@homiwork/messaging';
import { devSecrets, freePort, launchService, type LaunchedService } from '@homiwork/system-runner';
import { databaseUrl, randomId, TEST_NATS_URL, withAdminClient } from '@homiwork/testing';
import { ARGON2_OPTIONS } from '../services/identity/src/crypto/password-hasher.js';
import { NatsKvRateLimiter } from '../services/gateway/src/rate-limit/nats-kv-rate-limiter.js';
import { type Cleanup, type CpuProfile, frameName, InspectorSession, intEnv, machineBusyTicks, out, pidsNamed, type ProfileNode, runCleanups, sleep } from './support/bench-kit.js';

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------


const CONFIG = {
  /** In-flight requests (autocannon connections), comma-separated. */
  concurrency: (process.env.BENCH_CONCURRENCY ?? '32,64').split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value < 1 || value > 1_024) throw new Error(`BENCH_CONCURRENCY: bad value ${part}`);
    return value;
  }),
  /** Seconds of one measured HTTP run, and of the discarded warm-up before it. */
  seconds: intEnv('BENCH_SECONDS', 10, 1, 120),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 3, 0, 60),
  /** Users (each with its own client address) the "spread" runs share the load over; at least the highest concurrency. */
  users: intEnv('BENCH_USERS', 0, 0, 1_024),
  /** In-flight requests of the light-load /v1/me run (latency below saturation). */
  lightConcurrency: intEnv('BENCH_LIGHT_CONCURRENCY', 4, 1, 1_024),
  /** Argon2id: hashes timed (after two warm-ups). */
  hashes: intEnv('BENCH_HASHES', 20, 1, 1_000),
  /** Hop runs: in-flight calls and seconds of each. */
  hopConcurrency: intEnv('BENCH_HOP_CONCURRENCY', 32, 1, 1_024),
  hopSeconds: intEnv('BENCH_HOP_SECONDS', 5, 1, 60),
  /** Subsets: argon2,http,hops. Scenarios: bare,live,me-one,me-spread,me-light. */
  phases: new Set((process.env.BENCH_PHASES ?? 'argon2,http,hops').split(',').map((part) => part.trim())),
  scenarios: new Set((process.env.BENCH_SCENARIOS ?? 'bare,live,me-one,me-spread,me-light').split(',').map((part) => part.trim())),
  /** Record CPU profiles of gateway and identity during the /v1/me runs (see header). */
  profile: process.env.BENCH_PROFILE === '1',
  profileDir: process.env.BENCH_PROFILE_DIR ?? '/tmp/identity-bench-profiles',
  /** Also time a few other Argon2id parameter sets (5 hashes each), to pick production values from. */
  argon2Candidates: process.env.BENCH_ARGON2_CANDIDATES !== '0',
  /** Before each measured run: wait up to this long for no events.bench and a nearly idle machine. */
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 300, 0, 3_600),
  /** A run disturbed by other processes (> 10% of one core) is measured again up to this many times. */
  retries: intEnv('BENCH_RETRIES', 3, 0, 20),
  /** Hard limit for the whole run. */
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 2_400_000, 30_000, 7_200_000),
};
CONFIG.users ||= Math.max(...CONFIG.concurrency);
/** The gateway's configuration schema caps every per-minute limit at 1,000,000. */
const MAX_RATE_LIMIT = '1000000';
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------



function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const pad = (text: string, width: number): string => text.padEnd(width);

// ---------------------------------------------------------------------------------------
// CPU accounting from /proc: who used the two cores during a run
// ---------------------------------------------------------------------------------------

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3 of the man page, utime 14 and stime 15.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}



/** Another benchmark, or anything else busy on the machine, would skew the numbers. */
function otherBenchmarkRunning(): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('events.bench')) return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
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
      out(`  warning: machine still busy (${fmt(busy, 0)}% of one core${other ? ', events.bench running' : ''}) after ${CONFIG.quietWaitSeconds} s; measuring anyway`);
      return;
    }
    if (!reported) out(`  waiting for a quiet machine (${fmt(busy, 0)}% of one core busy${other ? ', events.bench running' : ''})…`);
    reported = true;
  }
}

type CpuGroups = Record<string, () => number[]>;

interface CpuWindow {
  stop(): Record<string, number>;
}

/** CPU used by each group of processes from now until stop(), in % of one core. */
function cpuWindow(groups: CpuGroups): CpuWindow {
  const started = performance.now();
  const selfStart = process.cpuUsage();
  const machineStart = machineBusyTicks();
  const before = new Map<number, number>();
  for (const pids of Object.values(groups)) for (const pid of pids()) before.set(pid, cpuTicks(pid) ?? 0);
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const usage: Record<string, number> = {};
      const self = process.cpuUsage(selfStart);
      usage[LOAD_GENERATOR] = ((self.user + self.system) / 1e6 / seconds) * 100;
      for (const [group, pids] of Object.entries(groups)) {
        let ticks = 0;
        for (const pid of pids()) ticks += Math.max(0, (cpuTicks(pid) ?? 0) - (before.get(pid) ?? 0));
        usage[group] = (ticks / CLOCK_TICKS / seconds) * 100;
      }
      const machine = ((machineBusyTicks() - machineStart) / CLOCK_TICKS / seconds) * 100;
      const ours = Object.values(usage).reduce((sum, value) => sum + value, 0);
      usage[OTHER] = Math.max(0, machine - ours);
      return usage;
    },
  };
}

const OTHER = 'other processes';
const LOAD_GENERATOR = 'load generator (this process)';

/** More than 10% of one core used by processes outside the benchmark during the run. */
function disturbed(usage: Record<string, number>): boolean {
  return (usage[OTHER] ?? 0) > 10;
}

/** CPU time each process spent per answered request — comparable even between disturbed runs. */
function describeCpuPerRequest(usage: Record<string, number>, perSecond: number): string {
  const parts = Object.entries(usage)
    .filter(([group, value]) => group !== OTHER && value >= 0.5)
    .map(([group, value]) => `${group.replace(' (this process)', '')} ${fmt(((value / 100) * 1e6) / perSecond, 0)}`);
  const total = Object.entries(usage)
    .filter(([group]) => group !== OTHER)
    .reduce((sum, [, value]) => sum + ((value / 100) * 1e6) / perSecond, 0);
  return `CPU µs per request: ${parts.join(', ')}; all but other processes ${fmt(total, 0)}`;
}

function describeCpu(usage: Record<string, number>): string {
  const total = Object.values(usage).reduce((sum, value) => sum + value, 0);
  const flag = disturbed(usage) ? ' — DISTURBED by other processes' : '';
  const parts = Object.entries(usage)
    .filter(([, value]) => value >= 0.5)
    .map(([group, value]) => `${group} ${fmt(value, 0)}%`);
  return `CPU (% of one core; 200% = both): ${parts.join(', ')}; machine total ${fmt(total, 0)}%${flag}`;
}

// ---------------------------------------------------------------------------------------
// CPU profiles over the inspector (BENCH_PROFILE=1)
// ---------------------------------------------------------------------------------------



/** Which package or part of the repo a profile frame belongs to. */
function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  const repo = /\/work\/main\/((?:libs|services)\/[^/]+)\//.exec(url) ?? /^file:\/\/.*?\/((?:libs|services)\/[^/]+)\//.exec(url);
  if (repo) return repo[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
}


function summarizeProfile(name: string, profile: CpuProfile, top = 15): string[] {
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
      .map(([key, value]) => `      ${fmt((value / busy) * 100, 1).padStart(5)}%  ${key}`);
  return [
    `    ${name}: ${fmt(busy / 1000, 0)} ms busy of ${fmt(total / 1000, 0)} ms sampled (${fmt((busy / total) * 100, 0)}% of one core); shares below are of busy time`,
    '    self time by package / area:',
    ...rows(selfByArea),
    '    inclusive time by package / area (synchronous stacks; async continuations count where they resume):',
    ...rows(inclusiveByArea),
    '    self time by function:',
    ...rows(selfByFrame),
  ];
}

// ---------------------------------------------------------------------------------------
// Load generation (autocannon) and closed loops
// ---------------------------------------------------------------------------------------

interface HttpRun {
  label: string;
  concurrency: number;
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  responses: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  cpu: Record<string, number>;
}

/** autocannon.aggregateResult is not in @types/autocannon 7. */
const aggregateResult = (autocannon as unknown as { aggregateResult: (this: void, results: unknown[], opts: Record<string, unknown>) => autocannon.Result }).aggregateResult;

/**
 * `clients` × `connections each`: every client is an autocannon instance with its own
 * headers (a user's token, an address), all running at once; their latency histograms are
 * merged. Only 2xx latencies are recorded (autocannon's rule), errors are counted apart.
 */
async function load(url: string, clients: Array<Record<string, string>>, connectionsEach: number, seconds: number): Promise<Omit<HttpRun, 'label' | 'cpu'>> {
  const started = performance.now();
  const results = await Promise.all(
    clients.map((headers) => autocannon({ url, headers, connections: connectionsEach, pipelining: 1, duration: seconds, timeout: 10, skipAggregateResult: true })),
  );
  const wall = (performance.now() - started) / 1000;
  const raw = results as unknown as Array<{ totalCompletedRequests: number }>;
  const merged = aggregateResult(results, { url, connections: clients.length * connectionsEach });
  const statuses: Record<string, number> = {};
  for (const [status, stat] of Object.entries(merged.statusCodeStats ?? {})) statuses[status] = stat.count ?? 0;
  const responses = raw.reduce((sum, result) => sum + result.totalCompletedRequests, 0);
  return {
    concurrency: clients.length * connectionsEach,
    requestsPerSecond: responses / Math.min(wall, seconds + 0.05),
    p50: merged.latency.p50,
    p90: merged.latency.p90,
    p99: merged.latency.p99,
    max: merged.latency.max,
    responses,
    non2xx: merged.non2xx,
    errors: merged.errors,
    statuses,
  };
}

interface LoopResult {
  opsPerSecond: number;
  p50: number;
  p99: number;
  failures: number;
  outcomes: Record<string, number>;
}

/** `concurrency` loops calling `op` back to back for `seconds`; latencies in ms. */
async function closedLoop(concurrency: number, seconds: number, op: (worker: number) => Promise<string>): Promise<LoopResult> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let failures = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_unused, worker) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        let outcome: string;
        try {
          outcome = await op(worker);
        } catch (error) {
          failures++;
          outcome = `threw ${(error as Error).name}`;
        }
        latencies.push(performance.now() - t0);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { opsPerSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures, outcomes };
}

// ---------------------------------------------------------------------------------------
// The system under test
// ---------------------------------------------------------------------------------------

const cleanups: Cleanup[] = [];

interface BareServer {
  url: string;
  child: ChildProcess;
}

const PROFILE_BODY = {
  id: randomUUID(),
  email: 'bench.user@example.com',
  username: 'bench_user',
  createdAt: new Date().toISOString(),
  prime: { active: false, expiresAt: null },
  energy: null,
};

/** The baseline: Fastify alone, in its own process, one route answering a body like /v1/me's. */
async function startBareFastify(): Promise<BareServer> {
  const script = `
    import Fastify from 'fastify';
    const body = ${JSON.stringify(PROFILE_BODY)};
    const app = Fastify({ logger: false });
    app.get('/v1/me', async () => body);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    process.stdout.write('LISTENING ' + address + '\\n');
    process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, env: { PATH: process.env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push({
    what: 'stopping the bare Fastify server',
    run: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare Fastify did not start within 20 s')), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^LISTENING (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`bare Fastify exited with ${code}`)));
  });
  return { url, child };
}

interface System {
  gateway: string;
  services: LaunchedService[];
  logs: string[];
  inspectorUrls: Map<string, string>;
  publicKeyPem: string;
}

async function startSystem(databaseUrlValue: string, namespace: string, mail: MailSink): Promise<System> {
  const secrets = devSecrets();
  const logs: string[] = [];
  const inspectorUrls = new Map<string, string>();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrlValue,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    SMTP_URL: mail.smtpUrl,
    ...secrets,
    // The "spread" runs name a client address per user in X-Forwarded-For, from loopback.
    TRUST_PROXY: 'loopback',
    DOWNSTREAM_SERVICES: 'identity',
    ACCESS_TOKEN_TTL_SECONDS: '900',
    RATE_LIMIT_AUTH_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_READ_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_WRITE_PER_MINUTE: MAX_RATE_LIMIT,
    ...(CONFIG.profile ? { NODE_OPTIONS: '--inspect=127.0.0.1:0' } : {}),
  };
  const services: LaunchedService[] = [];
  cleanups.push({ what: 'stopping the services', run: () => Promise.all(services.map((service) => service.stop())) });
  let gateway = '';
  for (const name of ['identity', 'gateway'] as const) {
    const opsPort = await freePort();
    const extra: NodeJS.ProcessEnv = { OPS_PORT: String(opsPort), SERVICE_NAME: name };
    if (name === 'gateway') {
      const httpPort = await freePort();
      extra.HTTP_PORT = String(httpPort);
      gateway = `http://127.0.0.1:${httpPort}`;
    }
    const service = launchService(name, `services/${name}/src/main.ts`, { ...env, ...extra }, (from, line) => {
      const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (inspector) inspectorUrls.set(from, inspector[1]!);
      else if (!/For help, see|Debugger attached|Waiting for the debugger/.test(line)) logs.push(`[${from}] ${line}`);
    });
    services.push(service);
    try {
      await service.waitUntilReady(opsPort);
    } catch (error) {
      throw new Error(`${name} did not start: ${String(error)}\n${logs.slice(-20).join('\n')}`);
    }
  }
  return { gateway, services, logs, inspectorUrls, publicKeyPem: secrets.JWT_PUBLIC_KEY };
}

// ---------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------

interface ArgonResult {
  hashMedian: number;
  hashP90: number;
  verifyMedian: number;
  verifyP90: number;
}

async function argon2Phase(): Promise<ArgonResult> {
  out(`argon2id ${JSON.stringify(ARGON2_OPTIONS)}: ${CONFIG.hashes} hashes and verifies after 2 warm-ups, one at a time, services not yet started`);
  const time = async (fn: () => Promise<unknown>): Promise<number[]> => {
    for (let i = 0; i < 2; i++) await fn();
    const samples: number[] = [];
    for (let i = 0; i < CONFIG.hashes; i++) {
      const t0 = performance.now();
      await fn();
      samples.push(performance.now() - t0);
    }
    return samples.sort((a, b) => a - b);
  };
  await waitForQuietMachine();
  const hashes = await time(() => hash(`${PASSWORD} ${randomUUID()}`, ARGON2_OPTIONS));
  const stored = await hash(PASSWORD, ARGON2_OPTIONS);
  const verifies = await time(async () => {
    if (!(await verify(stored, PASSWORD))) throw new Error('argon2 verify failed');
  });
  const result = { hashMedian: percentile(hashes, 50), hashP90: percentile(hashes, 90), verifyMedian: percentile(verifies, 50), verifyP90: percentile(verifies, 90) };
  out(`  hash   median ${fmt(result.hashMedian)} ms, p90 ${fmt(result.hashP90)} ms, min ${fmt(hashes[0]!)} ms, max ${fmt(hashes.at(-1)!)} ms`);
  out(`  verify median ${fmt(result.verifyMedian)} ms, p90 ${fmt(result.verifyP90)} ms`);
  out(`  goal 50–150 ms per hash: ${result.hashMedian >= 50 && result.hashMedian <= 150 ? 'met' : 'MISSED'}`);
  if (CONFIG.argon2Candidates) {
    out('  other Argon2id parameter sets (median of 5 hashes after 1 warm-up; memory is per concurrent hash):');
    for (const [memoryCost, timeCost] of [
      [19_456, 6],
      [47_104, 2],
      [65_536, 2],
      [65_536, 3],
      [131_072, 2],
    ] as const) {
      const options = { ...ARGON2_OPTIONS, memoryCost, timeCost };
      await hash(PASSWORD, options);
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await hash(`${PASSWORD} ${i}`, options);
        samples.push(performance.now() - t0);
      }
      out(`    m=${memoryCost} KiB (${fmt(memoryCost / 1024, 0)} MiB), t=${timeCost}, p=1: ${fmt(percentile(samples.sort((a, b) => a - b), 50))} ms`);
    }
  }
  return result;
}

interface Account {
  userId: string;
  token: string;
  address: string;
}

async function createAccounts(gateway: string, count: number): Promise<Account[]> {
  const accounts: Account[] = [];
  // Four at a time: each costs a hash and a verify on identity.
  for (let start = 0; start < count; start += 4) {
    const batch = Array.from({ length: Math.min(4, count - start) }, (_unused, offset) => start + offset);
    accounts.push(
      ...(await Promise.all(
        batch.map(async (index) => {
          const address = `10.${(index >> 8) & 255}.${index & 255}.${1 + (index % 200)}`;
          const api = new ApiClient({ baseUrl: gateway, headers: { 'x-forwarded-for': address } });
          const tag = `${RUN_ID}${index}`;
          const { user } = await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
          const { accessToken } = await api.accounts.login({ login: `bench_${tag}`, password: PASSWORD });
          const me = await api.withToken(accessToken).accounts.me();
          if (me.id !== user.id) throw new Error('GET /v1/me answered another user');
          return { userId: user.id, token: accessToken, address };
        }),
      )),
    );
  }
  return accounts;
}

async function profileDuring<T>(system: System, label: string, run: () => Promise<T>): Promise<T> {
  if (!CONFIG.profile) return run();
  const sessions = new Map<string, InspectorSession>();
  for (const [name, url] of system.inspectorUrls) {
    const session = await InspectorSession.open(url);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 200 });
    await session.send('Profiler.start');
    sessions.set(name, session);
  }
  const result = await run();
  mkdirSync(CONFIG.profileDir, { recursive: true });
  for (const [name, session] of sessions) {
    const { profile } = await session.send<{ profile: CpuProfile }>('Profiler.stop');
    session.close();
    const file = join(CONFIG.profileDir, `${label}.${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    out(`  profile of ${name}: ${file}`);
    for (const line of summarizeProfile(name, profile)) out(line);
  }
  return result;
}

async function httpPhase(system: System, bare: BareServer | undefined, accounts: Account[], cpuGroups: CpuGroups): Promise<HttpRun[]> {
  const runs: HttpRun[] = [];
  const one = accounts[0]!;
  type Scenario = { key: string; label: string; url: string; clients: (c: number) => { clients: Array<Record<string, string>>; each: number } };
  const spread = (c: number) => {
    const count = Math.min(c, accounts.length);
    if (c % count !== 0) throw new Error(`concurrency ${c} is not a multiple of ${count} users`);
    return { clients: accounts.slice(0, count).map((account) => ({ authorization: `Bearer ${account.token}`, 'x-forwarded-for': account.address })), each: c / count };
  };
  const scenarios: Scenario[] = [
    { key: 'bare', label: 'bare Fastify GET /v1/me (static JSON)', url: `${bare?.url ?? ''}/v1/me`, clients: (c) => ({ clients: [{}], each: c }) },
    { key: 'live', label: 'gateway GET /health/live (edge + Nest, no NATS)', url: `${system.gateway}/health/live`, clients: (c) => ({ clients: [{}], each: c }) },
    {
      key: 'me-one',
      label: 'gateway GET /v1/me, one user, one address',
      url: `${system.gateway}/v1/me`,
      clients: (c) => ({ clients: [{ authorization: `Bearer ${one.token}` }], each: c }),
    },
    {
      key: 'me-spread',
      label: `gateway GET /v1/me, spread over users/addresses`,
      url: `${system.gateway}/v1/me`,
      clients: spread,
    },
    {
      // Latency below saturation (once): autocannon's rate option sends each second's budget in
      // a burst, so a few connections in a closed loop stand for light load instead.
      key: 'me-light',
      label: `gateway GET /v1/me, spread, light load`,
      url: `${system.gateway}/v1/me`,
      clients: () => spread(CONFIG.lightConcurrency),
    },
  ];
  for (const concurrency of CONFIG.concurrency) {
    for (const scenario of scenarios) {
      if (!CONFIG.scenarios.has(scenario.key) || (scenario.key === 'bare' && !bare)) continue;
      if (scenario.key === 'me-light' && concurrency !== CONFIG.concurrency[0]) continue;
      const { clients, each } = scenario.clients(concurrency);
      const label = `${scenario.label}${scenario.key.startsWith('me-') && scenario.key !== 'me-one' ? ` (${clients.length} users × ${each} conn.)` : ''}`;
      let run: HttpRun | undefined;
      for (let attempt = 1; ; attempt++) {
        await waitForQuietMachine();
        if (CONFIG.warmupSeconds > 0) await load(scenario.url, clients, each, CONFIG.warmupSeconds);
        await sleep(500);
        const window = cpuWindow(scenario.key === 'bare' ? { 'bare Fastify': () => (bare?.child.pid ? [bare.child.pid] : []) } : cpuGroups);
        const measured = await profileDuring(system, `${scenario.key}-c${concurrency}`, () => load(scenario.url, clients, each, CONFIG.seconds));
        run = { label, ...measured, cpu: window.stop() };
        if (!disturbed(run.cpu) || attempt > CONFIG.retries) break;
        out(`  c=${pad(String(clients.length * each), 3)} ${pad(label, 70)} disturbed (other processes ${fmt(run.cpu[OTHER]!, 0)}% of one core); measuring again`);
      }
      runs.push(run);
      out(
        `  c=${pad(String(clients.length * each), 3)} ${pad(label, 70)} ${fmt(run.requestsPerSecond, 0).padStart(6)} req/s  p50 ${fmt(run.p50, 0).padStart(3)} ms  p90 ${fmt(run.p90, 0).padStart(3)} ms  p99 ${fmt(run.p99, 0).padStart(3)} ms  max ${fmt(run.max, 0).padStart(4)} ms  non-2xx ${run.non2xx}  errors ${run.errors}`,
      );
      const nonOk = Object.entries(run.statuses).filter(([status]) => !status.startsWith('2'));
      if (nonOk.length > 0) out(`        statuses: ${Object.entries(run.statuses).map(([status, count]) => `${status}×${count}`).join(', ')}`);
      out(`        ${describeCpu(run.cpu)}`);
      out(`        ${describeCpuPerRequest(run.cpu, run.requestsPerSecond)}`);
    }
  }
  return runs;
}

async function hopsPhase(nc: NatsConnection, namespace: string, accounts: Account[], publicKeyPem: string, cpuGroups: CpuGroups): Promise<void> {
  const c = CONFIG.hopConcurrency;
  const seconds = CONFIG.hopSeconds;
  out(`hops of GET /v1/me called from this process, ${c} in flight, ${seconds} s each (ops/s, latency per call, CPU of this process per call)`);
  const rpc = new RpcClient(nc, namespace, 10_000);
  const clock = new SystemClock();
  const limiter = await NatsKvRateLimiter.open(nc, namespace, clock);
  const verifier = await AccessTokenVerifier.fromPem(publicKeyPem, clock);
  const ipHash = createHash('sha256').update('bench').digest('hex');
  const callerOf = (worker: number) => ({ requestId: randomUUID(), userId: accounts[worker % accounts.length]!.userId, role: 'user' as const, ipHash });
  const echoSubject = `${namespace}.bench.echo`;
  const echoConnection = await connect({ servers: TEST_NATS_URL, name: 'bench-echo' });
  // connectToNats leaves async traces on: every request then builds Error objects (stack captures).
  const noTraces = await connect({ servers: TEST_NATS_URL, name: 'bench-no-async-traces', noAsyncTraces: true });
  echoConnection.subscribe(echoSubject, {
    callback: (_error, msg) => {
      msg.respond(msg.data);
    },
  });
  await echoConnection.flush();
  const hops: Array<{ label: string; op: (worker: number) => Promise<string> }> = [
    { label: 'NATS request/reply, echo responder in this process', op: async () => ((await nc.request(echoSubject, '{}', { timeout: 5_000 })).data.length > 0 ? 'ok' : 'empty') },
    { label: 'NATS request/reply, echo, requester with noAsyncTraces', op: async () => ((await noTraces.request(echoSubject, '{}', { timeout: 5_000 })).data.length > 0 ? 'ok' : 'empty') },
    { label: 'RpcClient identity.me.get (NATS → identity → PostgreSQL)', op: async (worker) => ((await rpc.call(IdentityRpc.GetProfileRoute, {}, callerOf(worker))).id ? 'ok' : 'no id') },
    {
      label: 'RpcClient billing.balance.get (no responder: 503 at once)',
      op: (worker) =>
        rpc.call(BillingRpc.GetBalanceRoute, {}, callerOf(worker), { timeoutMs: 1_000 }).then(
          () => 'ok',
          (error: unknown) => `status ${(error as { status?: number }).status ?? '?'}`,
        ),
    },
    {
      label: 'rate limiter: 2 keys (address, account) as the guard, one user',
      op: async () => {
        const decisions = await Promise.all([limiter.hit(`read.ip.${ipHash}`, 1_000_000, 60), limiter.hit(`read.account.${accounts[0]!.userId}`, 1_000_000, 60)]);
        return decisions.every((decision) => decision.allowed) ? 'allowed' : 'refused';
      },
    },
    {
      label: 'rate limiter: 2 keys per worker, no two workers share a key',
      op: async (worker) => {
        const decisions = await Promise.all([limiter.hit(`read.ip.bench${worker}`, 1_000_000, 60), limiter.hit(`read.account.bench${worker}`, 1_000_000, 60)]);
        return decisions.every((decision) => decision.allowed) ? 'allowed' : 'refused';
      },
    },
    { label: 'AccessTokenVerifier.verify (jose, Ed25519) in this process', op: async (worker) => ((await verifier.verify(accounts[worker % accounts.length]!.token)).sub ? 'ok' : 'no sub') },
  ];
  for (const hop of hops) {
    for (let attempt = 1; ; attempt++) {
      await waitForQuietMachine();
      await closedLoop(c, 1, hop.op);
      const window = cpuWindow(cpuGroups);
      const result = await closedLoop(c, seconds, hop.op);
      const usage = window.stop();
      if (disturbed(usage) && attempt <= CONFIG.retries) {
        out(`  ${pad(hop.label, 68)} disturbed (other processes ${fmt(usage[OTHER]!, 0)}% of one core); measuring again`);
        continue;
      }
      const cpuPerOp = (usage[LOAD_GENERATOR]! / 100) * 1e6 / result.opsPerSecond;
      const outcomes = Object.entries(result.outcomes)
        .map(([outcome, count]) => `${outcome}×${count}`)
        .join(', ');
      out(`  ${pad(hop.label, 68)} ${fmt(result.opsPerSecond, 0).padStart(6)} ops/s  p50 ${fmt(result.p50, 2).padStart(6)} ms  p99 ${fmt(result.p99, 2).padStart(6)} ms  ${fmt(cpuPerOp, 0).padStart(4)} µs CPU/op here  ${outcomes}`);
      out(`        ${describeCpu(usage)}`);
      break;
    }
  }
  await echoConnection.close();
  await noTraces.close();
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  out(`identity/gateway bench ${RUN_ID} — Node ${process.version}, ${(await import('node:os')).cpus().length} cores; load generator on the same cores`);
  out(`config: ${JSON.stringify({ ...CONFIG, phases: [...CONFIG.phases], scenarios: [...CONFIG.scenarios] })}`);
  out();
  if (CONFIG.phases.has('argon2')) {
    await argon2Phase();
    out();
  }
  if (!CONFIG.phases.has('http') && !CONFIG.phases.has('hops')) return;

  const database = `${RUN_ID}_identity`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${database}"`));
  cleanups.push({ what: `dropping database ${database}`, run: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)) });
  const mail = await startMailSink();
  cleanups.push({ what: 'stopping the mail sink', run: () => mail.stop() });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'identity-bench' });
  cleanups.push({ what: 'closing the NATS connection', run: () => nc.close() });
  cleanups.push({
    what: `deleting the streams and KV buckets of ${RUN_ID}`,
    run: async () => {
      const jsm = await jetstreamManager(nc);
      const ns = RUN_ID.toUpperCase();
      const names = [streamName(RUN_ID, EVENTS_STREAM), streamName(RUN_ID, DEAD_LETTER_STREAM), `KV_${ns}_REVOCATIONS`, `KV_${ns}_RATE_LIMITS`];
      const existing = new Set<string>();
      for await (const name of jsm.streams.names()) existing.add(name);
      await Promise.all(names.filter((name) => existing.has(name)).map((name) => jsm.streams.delete(name)));
      const left = [...existing].filter((name) => name.includes(ns) && !names.includes(name));
      if (left.length > 0) out(`  note: other streams of this namespace left: ${left.join(', ')}`);
    },
  });

  const bare = CONFIG.phases.has('http') && CONFIG.scenarios.has('bare') ? await startBareFastify() : undefined;
  const startedAt = performance.now();
  const system = await startSystem(databaseUrl(database), RUN_ID, mail);
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s: identity + 1 gateway (${system.gateway}), NODE_ENV=production, LOG_LEVEL=warn, rate limits ${MAX_RATE_LIMIT}/min`);
  const accountsStarted = performance.now();
  const accounts = await createAccounts(system.gateway, CONFIG.users);
  out(`${accounts.length} users registered and logged in through the gateway in ${fmt((performance.now() - accountsStarted) / 1000)} s`);
  out();

  const [identity, gateway] = system.services;
  const cpuGroups: CpuGroups = {
    gateway: () => (gateway!.child.pid ? [gateway!.child.pid] : []),
    identity: () => (identity!.child.pid ? [identity!.child.pid] : []),
    'nats-server': () => pidsNamed('nats-server'),
    postgres: () => pidsNamed('postgres'),
  };
  if (CONFIG.phases.has('http')) {
    out(`HTTP, autocannon keep-alive, ${CONFIG.warmupSeconds} s warm-up then ${CONFIG.seconds} s measured per line; latency of 2xx answers`);
    const runs = await httpPhase(system, bare, accounts, cpuGroups);
    out();
    for (const concurrency of CONFIG.concurrency) {
      const at = runs.filter((run) => run.concurrency === concurrency);
      const bareRun = at.find((run) => run.label.startsWith('bare'));
      for (const run of at.filter((candidate) => candidate.label.includes('/v1/me') && !candidate.label.startsWith('bare') && !candidate.label.includes('light'))) {
        const ratio = bareRun ? ` = ${fmt((run.requestsPerSecond / bareRun.requestsPerSecond) * 100, 1)}% of bare Fastify (${fmt(bareRun.requestsPerSecond, 0)} req/s)` : '';
        const met = run.requestsPerSecond >= 3_000 && run.p99 < 25 && run.non2xx === 0 && run.errors === 0;
        out(`  c=${concurrency} ${run.label}: ${fmt(run.requestsPerSecond, 0)} req/s${ratio}; goal ≥ 3,000 req/s, p99 < 25 ms, 0 non-2xx: ${met ? 'met' : 'MISSED'}`);
      }
    }
    out();
  }
  if (CONFIG.phases.has('hops')) {
    await hopsPhase(nc, RUN_ID, accounts, system.publicKeyPem, cpuGroups);
    out();
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

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: cleaning up\n`);
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

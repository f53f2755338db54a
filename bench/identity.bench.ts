/**
 * Identity + gateway benchmark, measured from outside as a user would see it.
 *
 *   1. argon2 — one Argon2id hash / verify with the production parameters (ARGON2_OPTIONS).
 *   2. http   — the system exactly as `npm start` runs it (the compiled supervisor
 *               `dist/tools/system/src/run-system.js` via startSystemProcess: migrate, dev
 *               infrastructure, every service of the manifest, on free ports, with its own
 *               database, namespace and run directory), NODE_ENV=production, LOG_LEVEL=warn,
 *               every rate limit at its maximum (1,000,000/min: the limiter stays on the
 *               path but never refuses for volume). Against it and, in the same run, a bare
 *               Fastify process answering a body like /v1/me's:
 *                 - peak: autocannon, keep-alive, BENCH_CONNECTIONS (32) connections, one
 *                   user's access token (GET /v1/me: passport strategy → local rate-limit
 *                   decision → identity over NATS → PostgreSQL, billing asked in parallel);
 *                 - latency: a paced open loop at half of that peak (support/outside.ts:
 *                   autocannon's own rate option sends each second's quota as a burst);
 *               req/s, p50/p99, the ratio to bare Fastify, CPU per process, and the resident
 *               memory (VmRSS) of every process after start and after load (pids from the
 *               supervisor's /status). BENCH_ROUNDS rounds (default 2).
 *
 * The load generator runs on the same machine (same cores) as everything it measures.
 * Each run waits for a quiet machine and is repeated when other processes used > 10% of
 * one core meanwhile.
 *
 * Not part of `npm test`. Build first (the bench does it unless BENCH_BUILD=0):
 *   node node_modules/nx/dist/bin/nx.js run-many -t build --projects=tag:type:service,system
 * then, from the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/identity.bench.ts
 * BENCH_PROFILE=1 also records CPU profiles of gateway and identity (inspector) during
 * one extra peak run and prints where the time goes. Everything it creates (database,
 * namespace, run directory) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hash, verify } from '@node-rs/argon2';
import { connect } from '@nats-io/transport-node';
import { ApiClient } from '@homiwork/api-client';
import { REPO_ROOT, startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { databaseUrl, randomId, TEST_NATS_URL } from '@homiwork/testing';
import { ARGON2_OPTIONS } from '../services/identity/src/crypto/password-hasher.js';
import { type Cleanup, createBenchDatabase, intEnv, out, pidsNamed, removeNamespaceOnCleanup, runBench, sleep } from './support/bench-kit.js';
import { type CpuGroups, cpuWindow, DISTURBED_PERCENT, disturbed, OTHER, waitForQuietMachine } from './support/cpu.js';
import { autocannonPeak, inspectorUrlsOf, pacedLoad, residentMemory, startBareFastify, type BareFastify, type LoadResult } from './support/outside.js';
import { profileDuring } from './support/profile.js';
import { fmt, mb, pad, percentile } from './support/stats.js';

const CONFIG = {
  /** In-flight requests (autocannon connections) of the peak runs; also the socket cap of the paced run. */
  connections: intEnv('BENCH_CONNECTIONS', 32, 1, 1_024),
  /** Seconds of one measured HTTP run, and of the discarded warm-up before it. */
  seconds: intEnv('BENCH_SECONDS', 10, 1, 120),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 3, 0, 60),
  /** Rounds of (bare peak, /v1/me peak, /v1/me at half of peak). */
  rounds: intEnv('BENCH_ROUNDS', 2, 1, 10),
  /** Argon2id: hashes timed (after two warm-ups). */
  hashes: intEnv('BENCH_HASHES', 20, 1, 1_000),
  phases: new Set((process.env.BENCH_PHASES ?? 'argon2,http').split(',').map((part) => part.trim())),
  /** Build the services and the supervisor first (nx, cached). */
  build: process.env.BENCH_BUILD !== '0',
  profile: process.env.BENCH_PROFILE === '1',
  profileDir: process.env.BENCH_PROFILE_DIR ?? '/tmp/identity-bench-profiles',
  argon2Candidates: process.env.BENCH_ARGON2_CANDIDATES !== '0',
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 300, 0, 3_600),
  retries: intEnv('BENCH_RETRIES', 3, 0, 20),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 2_400_000, 30_000, 7_200_000),
};
/** The gateway's configuration schema caps every per-minute limit at 1,000,000. */
const MAX_RATE_LIMIT = '1000000';
const GOAL = { peak: 3_000, p99AtHalf: 25 };
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const cleanups: Cleanup[] = [];

// ---------------------------------------------------------------------------------------
// Argon2id
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
  await waitForQuietMachine(CONFIG.quietWaitSeconds, ['events']);
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

// ---------------------------------------------------------------------------------------
// HTTP from outside
// ---------------------------------------------------------------------------------------

const PROFILE_BODY = {
  id: randomUUID(),
  email: 'bench.user@example.com',
  username: 'bench_user',
  createdAt: new Date().toISOString(),
  prime: { active: false, expiresAt: null },
  energy: null,
};

interface Measured extends LoadResult {
  label: string;
  cpu: Record<string, number>;
}

function describeCpu(usage: Record<string, number>, perSecond: number): string {
  const total = Object.values(usage).reduce((sum, value) => sum + value, 0);
  const flag = (usage[OTHER] ?? 0) > DISTURBED_PERCENT ? ' — DISTURBED by other processes' : '';
  const parts = Object.entries(usage)
    .filter(([, value]) => value >= 0.5)
    .map(([group, value]) => `${group.replace(' (this process)', '')} ${fmt(value, 0)}% (${fmt(((value / 100) * 1e6) / perSecond, 0)} µs/req)`);
  return `CPU (% of one core; 200% = both): ${parts.join(', ')}; machine ${fmt(total, 0)}%${flag}`;
}

/** Waits for a quiet machine, warms up, measures; again (up to CONFIG.retries) when other processes disturbed it. */
async function measure(label: string, groups: CpuGroups, warmUp: () => Promise<unknown>, run: () => Promise<LoadResult>): Promise<Measured> {
  for (let attempt = 1; ; attempt++) {
    await waitForQuietMachine(CONFIG.quietWaitSeconds, ['events', 'media', 'transport']);
    if (CONFIG.warmupSeconds > 0) await warmUp();
    await sleep(500);
    const window = cpuWindow(groups);
    const result = await run();
    const usage = window.stop();
    const measured = { label, ...result, cpu: usage.percent };
    if (!disturbed(usage) || attempt > CONFIG.retries) {
      out(
        `  ${pad(label, 52)} ${fmt(measured.requestsPerSecond, 0).padStart(6)} req/s  p50 ${fmt(measured.p50, 1).padStart(5)} ms  p90 ${fmt(measured.p90, 1).padStart(5)} ms  p99 ${fmt(measured.p99, 1).padStart(5)} ms  max ${fmt(measured.max, 0).padStart(4)} ms  non-2xx ${measured.non2xx}  errors ${measured.errors}`,
      );
      const nonOk = Object.entries(measured.statuses).filter(([status]) => !status.startsWith('2'));
      if (nonOk.length > 0) out(`        statuses: ${Object.entries(measured.statuses).map(([status, count]) => `${status}×${count}`).join(', ')}`);
      out(`        ${describeCpu(measured.cpu, measured.requestsPerSecond)}`);
      return measured;
    }
    out(`  ${pad(label, 52)} disturbed (other processes ${fmt(usage.percent[OTHER]!, 0)}% of one core); measuring again`);
  }
}

async function printMemory(system: SystemProcess, bare: BareFastify, when: string): Promise<void> {
  const status = await system.status();
  const rows = residentMemory([{ name: 'supervisor', pid: system.pid }, ...status.map((instance) => ({ name: instance.instance, pid: instance.pid })), { name: 'bare Fastify', pid: bare.pid }]);
  out(`  RSS ${when}: ${rows.map((row) => `${row.name} ${mb(row.rss)}`).join(', ')}`);
}

async function httpPhase(): Promise<void> {
  if (CONFIG.build) {
    out('building services and supervisor (nx, cached)…');
    const build = spawnSync(process.execPath, ['node_modules/nx/dist/bin/nx.js', 'run-many', '-t', 'build', '--projects=tag:type:service,system'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error(`build failed (${build.status})`);
  }
  const database = `${RUN_ID}_system`;
  await createBenchDatabase(database, cleanups);
  const nc = await connect({ servers: TEST_NATS_URL, name: 'identity-bench' });
  cleanups.push({ what: 'closing the NATS connection', run: () => nc.close() });
  removeNamespaceOnCleanup(nc, RUN_ID, cleanups);
  const runDir = mkdtempSync(join(tmpdir(), `${RUN_ID}-run-`));
  cleanups.push({ what: 'removing the run directory', run: () => Promise.resolve(rmSync(runDir, { recursive: true, force: true })) });

  const bare = await startBareFastify('/v1/me', PROFILE_BODY);
  cleanups.push({ what: 'stopping the bare Fastify server', run: () => bare.stop() });
  const startedAt = performance.now();
  const system = await startSystemProcess(
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      // Production refuses the development payment processor; this bench buys nothing.
      PAYMENT_PROCESSOR: 'webhook',
      PAYMENT_PROCESSOR_URL: 'http://127.0.0.1:9/unused',
      DATABASE_URL: databaseUrl(database),
      NATS_URL: TEST_NATS_URL,
      EVENT_NAMESPACE: RUN_ID,
      RUN_DIR: runDir,
      EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
      ACCESS_TOKEN_TTL_SECONDS: '900',
      RATE_LIMIT_AUTH_PER_MINUTE: MAX_RATE_LIMIT,
      RATE_LIMIT_READ_PER_MINUTE: MAX_RATE_LIMIT,
      RATE_LIMIT_WRITE_PER_MINUTE: MAX_RATE_LIMIT,
      RATE_LIMIT_GENERATION_PER_MINUTE: MAX_RATE_LIMIT,
      ...(CONFIG.profile ? { NODE_OPTIONS: '--inspect=127.0.0.1:0' } : {}),
    },
    { timeoutMs: 120_000 },
  );
  cleanups.push({ what: 'stopping the system', run: () => system.stop() });
  const status = await system.status();
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s as npm start runs it: ${status.map((instance) => `${instance.instance} (pid ${instance.pid})`).join(', ')}; API ${system.apiUrl}`);
  await sleep(2_000);
  await printMemory(system, bare, 'after start (idle)');

  const api = new ApiClient({ baseUrl: system.apiUrl });
  const tag = randomId(4);
  await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await api.accounts.login({ login: `bench_${tag}`, password: PASSWORD });
  if ((await api.withToken(accessToken).accounts.me()).username !== `bench_${tag}`) throw new Error('GET /v1/me answered another user');
  const authorization = { authorization: `Bearer ${accessToken}` };

  const pidOf = (instance: string) => () => {
    const pid = status.find((candidate) => candidate.instance === instance)?.pid;
    return pid ? [pid] : [];
  };
  const systemGroups: CpuGroups = {
    gateway: pidOf('gateway'),
    identity: pidOf('identity'),
    media: pidOf('media'),
    supervisor: () => [system.pid],
    'nats-server': () => pidsNamed('nats-server'),
    postgres: () => pidsNamed('postgres'),
  };
  const bareGroups: CpuGroups = { 'bare Fastify': () => [bare.pid] };
  const c = CONFIG.connections;
  const peak = (url: string, headers: Record<string, string>, seconds: number) => autocannonPeak(url, { headers, connections: c, seconds });
  const me = `${system.apiUrl}/v1/me`;

  const rounds: Array<{ bare: Measured; mePeak: Measured; meHalf: Measured }> = [];
  out(`HTTP, ${CONFIG.warmupSeconds} s warm-up then ${CONFIG.seconds} s measured per line; latency of 2xx answers`);
  for (let round = 1; round <= CONFIG.rounds; round++) {
    out(` round ${round}`);
    const bareRun = await measure(`bare Fastify GET /v1/me, c=${c}`, bareGroups, () => peak(`${bare.url}/v1/me`, {}, CONFIG.warmupSeconds), () => peak(`${bare.url}/v1/me`, {}, CONFIG.seconds));
    const mePeak = await measure(`system GET /v1/me, c=${c} (peak)`, systemGroups, () => peak(me, authorization, CONFIG.warmupSeconds), () => peak(me, authorization, CONFIG.seconds));
    const rate = Math.max(1, Math.round(mePeak.requestsPerSecond / 2));
    const meHalf = await measure(`system GET /v1/me, paced ${rate}/s (half of peak)`, systemGroups, () => pacedLoad(me, { headers: authorization, connections: c, ratePerSecond: rate, seconds: CONFIG.warmupSeconds }), () =>
      pacedLoad(me, { headers: authorization, connections: c, ratePerSecond: rate, seconds: CONFIG.seconds }),
    );
    out(`  ratio /v1/me peak ÷ bare Fastify: ${fmt(mePeak.requestsPerSecond / bareRun.requestsPerSecond, 3)}`);
    rounds.push({ bare: bareRun, mePeak, meHalf });
  }
  await printMemory(system, bare, 'after load');
  out();
  for (const [index, { bare: bareRun, mePeak, meHalf }] of rounds.entries()) {
    const met = mePeak.requestsPerSecond >= GOAL.peak && meHalf.p99 < GOAL.p99AtHalf && mePeak.non2xx + meHalf.non2xx === 0 && mePeak.errors + meHalf.errors === 0;
    out(
      `  round ${index + 1}: /v1/me ${fmt(mePeak.requestsPerSecond, 0)} req/s at c=${c} (p99 ${fmt(mePeak.p99, 1)} ms), bare Fastify ${fmt(bareRun.requestsPerSecond, 0)} req/s, ratio ${fmt(mePeak.requestsPerSecond / bareRun.requestsPerSecond, 3)}; at ${fmt(meHalf.requestsPerSecond, 0)} req/s p50 ${fmt(meHalf.p50, 1)} ms p99 ${fmt(meHalf.p99, 1)} ms — goal ≥ ${GOAL.peak} req/s and p99 < ${GOAL.p99AtHalf} ms at half of peak: ${met ? 'met' : 'MISSED'}`,
    );
  }
  if (CONFIG.profile) {
    out();
    const urls = inspectorUrlsOf(system.output, ['gateway', 'identity']);
    out(`CPU profiles during one more peak run (${[...urls.keys()].join(', ')}); throughput of this run is not for the table`);
    await profileDuring(urls, { dir: CONFIG.profileDir, label: `me-c${c}` }, () => ({ top: 20 }), () => peak(me, authorization, CONFIG.seconds));
  }
  const problems = system.output.filter((line) => /"level":(40|50|60)/.test(line));
  out(`service log lines at warn or above: ${problems.length}${problems.length > 0 ? `; last: ${problems.at(-1)!.slice(0, 300)}` : ''}`);
}

async function main(): Promise<void> {
  out(`identity/gateway bench ${RUN_ID} — Node ${process.version}, ${(await import('node:os')).cpus().length} cores; load generator on the same cores`);
  out(`config: ${JSON.stringify({ ...CONFIG, phases: [...CONFIG.phases] })}`);
  out();
  if (CONFIG.phases.has('argon2')) {
    await argon2Phase();
    out();
  }
  if (CONFIG.phases.has('http')) await httpPhase();
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

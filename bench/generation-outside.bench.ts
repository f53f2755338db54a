/**
 * Generation and billing from outside, as a user sees them (issue 9): the system exactly as
 * `npm start` runs it (startSystemProcess: the compiled supervisor, migrate, the embedded S3
 * server and mail sink, its own nats-server with one user per service, every service of the
 * manifest with its run-time settings, free ports, NODE_ENV=production, LOG_LEVEL=warn), the
 * machine's PostgreSQL, every gateway rate limit at its 1,000,000/min maximum (the limiter
 * stays on the path but never refuses for volume), a signup grant of 1,000,000 energy, the
 * contractor adapters at their default (`local`, in process). Users register and log in
 * through the API.
 *
 * Lines, each a closed loop at BENCH_CONCURRENCY in flight (2, 8, 32) over BENCH_USERS users
 * (8; jobs go round the users), and at BENCH_HOT_CONCURRENCY (8, 32) with ONE user (every
 * reservation on one balance):
 *   baseline — GET /v1/billing/balance (gateway → NATS → billing → PostgreSQL): req/s, p50/p99;
 *   text     — POST /v1/generations {kind: 'text', prompt}, then GET /v1/generations/:id every
 *              BENCH_POLL_MS (25) until `succeeded`, then GET /v1/contents/:id/file:
 *              jobs/s, p50/p99 of the POST alone, of request → first poll answering
 *              `succeeded` (poll granularity included), of request → stored (the content's
 *              `createdAt`, read through GET /v1/contents/:id after the line, set in the
 *              job's final transaction: no poll granularity) and of the whole job (download
 *              included); non-2xx answers of every request type.
 * Outside the contractor: the local text contractor takes < 0.1 ms, so request → stored is
 * the system's own time per job (queueing included); the generation service's
 * `generation_job_seconds` (its ops /metrics, scraped before and after each line) gives the
 * mean time inside the contractor egress (`dispatch`) and of the rest of the run, which
 * splits request → stored into POST, queue wait and run.
 * CPU of every process of the system (and postgres, this load generator, everything else)
 * over each line; resident memory of every process: idle after start, peak during each line
 * (BENCH_SAMPLE_MS samples), after the load and VmHWM. At the end: jobs by status (none
 * stuck), and the ledger: spent = cost × succeeded jobs, balance = sum of the entries.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24 (it builds what
 * changed first, as npm start does; BENCH_BUILD=0 skips that):
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/generation-outside.bench.ts
 * Each line waits for a quiet machine and is repeated (BENCH_RETRIES) when other processes
 * used more than 10 % of one core meanwhile. Everything it creates (database, run directory
 * with the S3 server's and nats-server's files) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ApiClient } from '@homiwork/api-client';
import { startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { databaseUrl, randomId } from '@homiwork/testing';
import { type Cleanup, createBenchDatabase, intEnv, intListEnv, out, pidsNamed, runBench, sleep } from './support/bench-kit.js';
import { cpuWindow, DISTURBED_PERCENT, OTHER, SELF, waitForQuietMachine, type CpuGroups, type CpuUsage } from './support/cpu.js';
import { closedLoop, type LoopResult } from './support/loops.js';
import { rssOfProc, sampleRss } from './support/memory.js';
import { buildSystem, MAX_RATE_LIMIT, outsideSystemEnv, processesOf, type ProcessRow } from './support/system.js';
import { fmt, MB, pad, percentile } from './support/stats.js';

const CONFIG = {
  /** In-flight jobs (and balance reads) of the lines spread over BENCH_USERS users. */
  concurrency: intListEnv('BENCH_CONCURRENCY', '2,8,32', 1, 256),
  /** In-flight jobs of the lines with one user (one hot balance). */
  hotConcurrency: intListEnv('BENCH_HOT_CONCURRENCY', '8,32', 1, 256),
  users: intEnv('BENCH_USERS', 8, 1, 256),
  /** Jobs per generation line, and discarded warm-up jobs before each. */
  jobs: intEnv('BENCH_JOBS', 400, 10, 100_000),
  warmup: intEnv('BENCH_WARMUP_JOBS', 20, 0, 10_000),
  /** Seconds of a baseline line, and of its discarded warm-up. */
  baselineSeconds: intEnv('BENCH_BASELINE_SECONDS', 8, 1, 120),
  baselineWarmupSeconds: intEnv('BENCH_BASELINE_WARMUP_SECONDS', 2, 0, 60),
  /** A client polls GET /v1/generations/:id this often. */
  pollMs: intEnv('BENCH_POLL_MS', 25, 1, 1_000),
  /** A job not succeeded this long after its POST counts as stuck. */
  jobTimeoutMs: intEnv('BENCH_JOB_TIMEOUT_MS', 60_000, 1_000, 600_000),
  sampleMs: intEnv('BENCH_SAMPLE_MS', 100, 10, 10_000),
  build: process.env.BENCH_BUILD !== '0',
  retries: intEnv('BENCH_RETRIES', 2, 0, 20),
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 600, 0, 3_600),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 3_600_000, 60_000, 7_200_000),
};
/** The gateway's configuration schema caps every per-minute limit at 1,000,000. */
/** Billing's schema caps the signup grant at 1,000,000: 500,000 text jobs per user. */
const SIGNUP_GRANT = 1_000_000;
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const PROMPTS = ['A warm birthday greeting for my colleague', 'A formal letter asking the landlord to fix the heating', 'Marketing copy for a small bakery opening on Monday', 'A thank-you note for the neighbours who watered the plants'];
const OTHER_BENCHES = ['events', 'identity', 'media', 'transport', 'billing', 'generation'];

const cleanups: Cleanup[] = [];

// ---------------------------------------------------------------------------------------
// HTTP as a client: keep-alive sockets, one request at a time per worker
// ---------------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: Buffer;
  contentType: string | undefined;
}

class Http {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly target: URL;

  constructor(baseUrl: string) {
    this.target = new URL(baseUrl);
  }

  call(method: 'GET' | 'POST', path: string, token: string, json?: unknown): Promise<Answer> {
    const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise<Answer>((resolve, reject) => {
      const req = request({ host: this.target.hostname, port: this.target.port, path, method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), contentType: res.headers['content-type'] }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Answers per status, per request type (`POST /v1/generations`, `GET …/:id` polls, …). */
type Statuses = Record<string, Record<string, number>>;
const count = (statuses: Statuses, what: string, status: number | string) => {
  const byStatus = (statuses[what] ??= {});
  byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
};
const non2xxOf = (statuses: Statuses): number =>
  Object.values(statuses)
    .flatMap((byStatus) => Object.entries(byStatus))
    .filter(([status]) => !status.startsWith('2'))
    .reduce((sum, [, n]) => sum + n, 0);
const describeStatuses = (statuses: Statuses): string =>
  Object.entries(statuses)
    .map(
      ([what, byStatus]) =>
        `${what}: ${Object.entries(byStatus)
          .map(([status, n]) => `${status}×${n}`)
          .join(' ')}`,
    )
    .join('; ');

// ---------------------------------------------------------------------------------------
// The system and its processes
// ---------------------------------------------------------------------------------------

async function startSystem(database: string, runDir: string): Promise<SystemProcess> {
  const system = await startSystemProcess(outsideSystemEnv({ url: databaseUrl(database), runDir, namespace: RUN_ID }, { ENERGY_SIGNUP_GRANT: String(SIGNUP_GRANT) }), { timeoutMs: 120_000 });
  cleanups.push({ what: 'stopping the system', run: () => system.stop() });
  return system;
}

async function createUsers(api: ApiClient, count: number, prefix: string): Promise<{ ids: string[]; login: () => Promise<string[]> }> {
  const logins: string[] = [];
  for (let index = 0; index < count; index++) {
    const tag = `${RUN_ID}${prefix}${index}`;
    await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
    logins.push(`bench_${tag}`);
  }
  const login = async () => {
    const tokens: string[] = [];
    for (const name of logins) tokens.push((await api.accounts.login({ login: name, password: PASSWORD })).accessToken);
    return tokens;
  };
  const ids: string[] = [];
  for (const token of await login()) ids.push((await api.withToken(token).accounts.me()).id);
  return { ids, login };
}

/** Sum and count of generation_job_seconds per phase, from generation's ops /metrics. */
async function jobSeconds(opsUrl: string): Promise<Record<'dispatch' | 'overhead', { sum: number; count: number }>> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  const totals = { dispatch: { sum: 0, count: 0 }, overhead: { sum: 0, count: 0 } };
  for (const line of text.split('\n')) {
    const match = /^generation_job_seconds_(sum|count)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!match || !match[2]!.includes('kind="text"')) continue;
    const phase = /phase="(\w+)"/.exec(match[2]!)?.[1];
    if (phase !== 'dispatch' && phase !== 'overhead') continue;
    totals[phase][match[1] as 'sum' | 'count'] += Number(match[3]);
  }
  return totals;
}

// ---------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------

interface JobSample {
  id: string;
  /** The owner's access token: the content is read back as its owner. */
  token: string;
  contentId: string;
  sentWall: number;
  post: number;
  /** Request sent → the first poll answer saying succeeded. */
  succeeded: number;
  /** Request sent → the last poll answering not yet (a lower bound of when it succeeded). */
  lastPending: number;
  polls: number;
  whole: number;
  /** Request sent → the content's createdAt (filled in after the line). */
  stored?: number;
  /** The 202 received → the content's createdAt. */
  afterAccepted?: number;
}

interface Line {
  label: string;
  concurrency: number;
  users: number;
  baseline: LoopResult;
  baselineCpu: CpuUsage;
  baselineStatuses: Statuses;
  jobs: LoopResult;
  jobsCpu: CpuUsage;
  jobStatuses: Statuses;
  samples: JobSample[];
  dispatchMeanMs: number;
  overheadMeanMs: number;
  peak: Map<number, number>;
}

const sortedOf = (values: number[]) => [...values].sort((a, b) => a - b);
const p = (values: number[], q: number) => percentile(sortedOf(values), q);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
const pair = (values: number[], digits = 1) => `${fmt(p(values, 50), digits)}/${fmt(p(values, 99), digits)}`;

async function measureLine(
  label: string,
  concurrency: number,
  http: Http,
  users: { login: () => Promise<string[]> },
  opsUrl: string,
  rows: ProcessRow[],
  groups: CpuGroups,
): Promise<Line> {
  for (let attempt = 0; ; attempt++) {
    await waitForQuietMachine(CONFIG.quietWaitSeconds, OTHER_BENCHES);
    // Tokens live 15 minutes; waiting for a quiet machine can take longer.
    const tokens = await users.login();
    const tokenOf = (index: number) => tokens[index % tokens.length]!;

    let baselineStatuses: Statuses = {};
    const balance = async (index: number) => {
      const answer = await http.call('GET', '/v1/billing/balance', tokenOf(index));
      count(baselineStatuses, 'GET /v1/billing/balance', answer.status);
      return answer.status === 200 ? { ok: true, outcome: '200' } : { ok: false, outcome: String(answer.status), detail: answer.body.toString('utf8').slice(0, 300) };
    };
    if (CONFIG.baselineWarmupSeconds > 0) await closedLoop(concurrency, { seconds: CONFIG.baselineWarmupSeconds }, balance);
    baselineStatuses = {};
    await sleep(500);
    const baselineWindow = cpuWindow(groups);
    const baseline = await closedLoop(concurrency, { seconds: CONFIG.baselineSeconds }, balance);
    const baselineCpu = baselineWindow.stop();

    let jobStatuses: Statuses = {};
    let samples: JobSample[] = [];
    const job = async (index: number) => {
      const token = tokenOf(index);
      const sentWall = Date.now();
      const t0 = performance.now();
      const created = await http.call('POST', '/v1/generations', token, { kind: 'text', prompt: PROMPTS[index % PROMPTS.length]! });
      const post = performance.now() - t0;
      count(jobStatuses, 'POST /v1/generations', created.status);
      if (created.status !== 202) return { ok: false, outcome: `POST ${created.status}`, detail: created.body.toString('utf8').slice(0, 300) };
      const { id } = JSON.parse(created.body.toString('utf8')) as { id: string };
      let lastPending = post;
      let polls = 0;
      for (;;) {
        await sleep(CONFIG.pollMs);
        const pollSent = performance.now() - t0;
        if (pollSent > CONFIG.jobTimeoutMs) return { ok: false, outcome: 'stuck', detail: `job not succeeded after ${CONFIG.jobTimeoutMs} ms` };
        const polled = await http.call('GET', `/v1/generations/${id}`, token);
        polls++;
        count(jobStatuses, 'GET /v1/generations/:id', polled.status);
        if (polled.status !== 200) continue;
        const state = JSON.parse(polled.body.toString('utf8')) as { status: string; contentId?: string; error?: unknown };
        if (state.status === 'failed') return { ok: false, outcome: 'failed', detail: JSON.stringify(state.error) };
        if (state.status !== 'succeeded') {
          lastPending = pollSent;
          continue;
        }
        const succeeded = performance.now() - t0;
        const file = await http.call('GET', `/v1/contents/${state.contentId!}/file`, token);
        count(jobStatuses, 'GET /v1/contents/:id/file', file.status);
        if (file.status !== 200 || file.body.length === 0 || !file.contentType?.startsWith('text/')) return { ok: false, outcome: `file ${file.status}`, detail: `${file.contentType} ${file.body.length} bytes` };
        samples.push({ id, token, contentId: state.contentId!, sentWall, post, succeeded, lastPending, polls, whole: performance.now() - t0 });
        return { ok: true, outcome: 'succeeded' };
      }
    };
    if (CONFIG.warmup > 0) await closedLoop(concurrency, { jobs: CONFIG.warmup }, job);
    jobStatuses = {};
    samples = [];
    await sleep(500);
    const before = await jobSeconds(opsUrl);
    const sampler = sampleRss(
      rows.map((row) => row.pid),
      CONFIG.sampleMs,
    );
    const jobsWindow = cpuWindow(groups);
    const jobs = await closedLoop(concurrency, { jobs: CONFIG.jobs }, job);
    const jobsCpu = jobsWindow.stop();
    const { peak } = await sampler.stop();
    const after = await jobSeconds(opsUrl);
    const runs = after.dispatch.count - before.dispatch.count;
    const dispatchMeanMs = ((after.dispatch.sum - before.dispatch.sum) / Math.max(1, runs)) * 1e3;
    const overheadMeanMs = ((after.overhead.sum - before.overhead.sum) / Math.max(1, after.overhead.count - before.overhead.count)) * 1e3;

    // When each job's content was stored, read as a user can, outside the measured loop.
    await closedLoop(Math.min(8, concurrency), { jobs: samples.length }, async (index) => {
      const sample = samples[index]!;
      const answer = await http.call('GET', `/v1/contents/${sample.contentId}`, sample.token);
      if (answer.status !== 200) return { ok: false, outcome: String(answer.status) };
      sample.stored = Date.parse((JSON.parse(answer.body.toString('utf8')) as { createdAt: string }).createdAt) - sample.sentWall;
      sample.afterAccepted = sample.stored - sample.post;
      return { ok: true, outcome: '200' };
    });

    const line: Line = { label, concurrency, users: tokens.length, baseline, baselineCpu, baselineStatuses, jobs, jobsCpu, jobStatuses, samples, dispatchMeanMs, overheadMeanMs, peak };
    printLine(line, rows);
    const other = Math.max(baselineCpu.percent[OTHER] ?? 0, jobsCpu.percent[OTHER] ?? 0);
    if (other <= DISTURBED_PERCENT || attempt >= CONFIG.retries) return line;
    out(`    measuring "${label}" again (${attempt + 1}/${CONFIG.retries}): other processes used ${fmt(other, 0)}% of one core`);
  }
}

function describeCpu(usage: CpuUsage, perSecond: number, unit: string, rows: ProcessRow[]): string {
  const labels = [...rows.map((row) => row.label), 'postgres', SELF, OTHER];
  return labels
    .filter((label) => (usage.percent[label] ?? 0) >= 0.5)
    .map((label) => `${label.replace(' (this process)', '')} ${fmt(usage.percent[label]!, 0)}% (${fmt(((usage.percent[label]! / 100) * 1e6) / perSecond, 0)} µs/${unit})`)
    .join(', ');
}

function printLine(line: Line, rows: ProcessRow[]): void {
  const ok = line.samples;
  const stored = ok.map((s) => s.stored).filter((v): v is number => v !== undefined);
  out(`  ${line.label}`);
  out(
    `    baseline GET /v1/billing/balance: ${fmt(line.baseline.perSecond, 0)} req/s, p50/p99 ${fmt(line.baseline.p50, 1)}/${fmt(line.baseline.p99, 1)} ms, non-2xx ${non2xxOf(line.baselineStatuses)}, failures ${line.baseline.latencies.length === Object.values(line.baseline.outcomes).reduce((a, b) => a + b, 0) ? 0 : JSON.stringify(line.baseline.outcomes)}`,
  );
  out(`      CPU: ${describeCpu(line.baselineCpu, line.baseline.perSecond, 'req', rows)}`);
  out(
    `    text jobs: ${fmt(line.jobs.perSecond, 1)} jobs/s (${line.jobs.done}/${CONFIG.jobs} succeeded), POST p50/p99 ${pair(ok.map((s) => s.post))} ms, request→succeeded (poll) ${pair(ok.map((s) => s.succeeded))}, request→stored ${pair(stored)}, whole job ${pair(ok.map((s) => s.whole))} ms; polls/job ${fmt(mean(ok.map((s) => s.polls)), 1)}`,
  );
  out(`      run (generation's metrics, mean): dispatch ${fmt(line.dispatchMeanMs, 3)} ms, rest of the run ${fmt(line.overheadMeanMs, 1)} ms; answers ${describeStatuses(line.jobStatuses)}`);
  if (line.jobs.done !== CONFIG.jobs) out(`      NOT SUCCEEDED: ${JSON.stringify(line.jobs.outcomes)}; first: ${line.jobs.firstFailure}`);
  out(`      CPU: ${describeCpu(line.jobsCpu, line.jobs.perSecond, 'job', rows)}`);
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  out(`generation/billing outside bench ${RUN_ID} — Node ${process.version}, ${cpus().length} cores; load generator on the same cores; load average at start ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  out(`config: ${JSON.stringify(CONFIG)}`);
  if (CONFIG.build) {
    out('building services and supervisor (nx, cached)…');
    buildSystem();
  }
  const database = `${RUN_ID}_system`;
  await createBenchDatabase(database, cleanups);
  const runDir = await mkdtemp(join(tmpdir(), `${RUN_ID}-run-`));
  cleanups.push({ what: 'removing the run directory', run: () => rm(runDir, { recursive: true, force: true }) });
  const startedAt = performance.now();
  const system = await startSystem(database, runDir);
  const instances = await system.status();
  const rows = processesOf(system, instances);
  const generation = instances.find((instance) => instance.service === 'generation');
  if (!generation) throw new Error('no generation instance in the supervisor status');
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s as npm start runs it (NODE_ENV=production, LOG_LEVEL=warn, rate limits ${MAX_RATE_LIMIT}/min, signup grant ${SIGNUP_GRANT})`);
  out(`processes: ${rows.map((row) => `${row.label} ${row.pid}`).join(', ')}`);

  const api = new ApiClient({ baseUrl: system.apiUrl });
  const spread = await createUsers(api, CONFIG.users, 's');
  const hot = await createUsers(api, 1, 'h');
  const http = new Http(system.apiUrl);
  cleanups.push({ what: 'closing the HTTP agent', run: () => Promise.resolve(http.close()) });

  await sleep(3_000);
  const idleSampler = sampleRss(
    rows.map((row) => row.pid),
    CONFIG.sampleMs,
  );
  await sleep(2_000);
  const idle = (await idleSampler.stop()).median;
  const hwmAtIdle = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).hwm]));

  const groups: CpuGroups = Object.fromEntries(rows.map((row) => [row.label, () => [row.pid]]));
  groups.postgres = () => pidsNamed('postgres');
  groups['nats (machine)'] = () => pidsNamed('nats-server').filter((pid) => !rows.some((row) => row.pid === pid));

  out();
  out(
    `each line: ${CONFIG.baselineWarmupSeconds} s warm-up + ${CONFIG.baselineSeconds} s of GET /v1/billing/balance, then ${CONFIG.warmup} warm-up + ${CONFIG.jobs} text jobs (POST, poll every ${CONFIG.pollMs} ms, download), closed loops at the same in-flight count; latencies in ms`,
  );
  const lines: Line[] = [];
  for (const concurrency of CONFIG.concurrency) lines.push(await measureLine(`${concurrency} in flight, ${CONFIG.users} users`, concurrency, http, spread, generation.opsUrl, rows, groups));
  for (const concurrency of CONFIG.hotConcurrency) lines.push(await measureLine(`${concurrency} in flight, ONE user (hot balance)`, concurrency, http, hot, generation.opsUrl, rows, groups));
  await sleep(2_000);
  const afterLoad = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).rss]));
  const hwm = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).hwm]));

  // The books: every job accounted for, every charge once.
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  const byStatus = (await client.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM generation.jobs GROUP BY status ORDER BY status')).rows;
  const succeededJobs = Number(byStatus.find((row) => row.status === 'succeeded')?.n ?? 0);
  const userIds = [...spread.ids, ...hot.ids];
  const balances = (await client.query<{ total: string }>('SELECT coalesce(sum(energy), 0) AS total FROM billing.balances WHERE user_id = ANY($1)', [userIds])).rows[0]!.total;
  const entries = (await client.query<{ total: string }>('SELECT coalesce(sum(delta), 0) AS total FROM billing.ledger_entries WHERE user_id = ANY($1)', [userIds])).rows[0]!.total;
  const reservations = (await client.query<{ state: string; n: string }>('SELECT state, count(*) AS n FROM billing.reservations GROUP BY state ORDER BY state')).rows;
  await client.end();
  const spent = SIGNUP_GRANT * userIds.length - Number(balances);
  out();
  out(
    `check: jobs by status ${byStatus.map((row) => `${row.status} ${row.n}`).join(', ')}; reservations ${reservations.map((row) => `${row.state} ${row.n}`).join(', ')}; energy spent ${spent} = 2 × ${succeededJobs} succeeded jobs: ${spent === 2 * succeededJobs ? 'yes' : 'NO'}; balances ${balances} = sum of ledger entries ${entries}: ${balances === entries ? 'yes' : 'NO'}`,
  );

  out();
  out('summary (ms; own = request → stored minus the mean time inside the contractor egress; 202→stored = from the POST answer to the content row; run = mean of the runner\'s own timing, it starts before the 202 reaches the client; POST+rest = POST p50 + the run outside the egress, the sum the in-process bench calls own)');
  out(
    `  ${pad('line', 44)}${pad('balance req/s (p50/p99)', 26)}${pad('jobs/s', 8)}${pad('ratio', 7)}${pad('POST p50/p99', 14)}${pad('→succeeded p50/p99', 20)}${pad('→stored p50/p99', 18)}${pad('own p50', 9)}${pad('202→stored p50', 16)}${pad('run', 7)}${pad('POST+rest p50', 15)}${pad('non-2xx', 8)}`,
  );
  for (const line of lines) {
    const ok = line.samples;
    const stored = ok.map((s) => s.stored).filter((v): v is number => v !== undefined);
    const run = line.dispatchMeanMs + line.overheadMeanMs;
    const afterAccepted = ok.map((s) => s.afterAccepted).filter((v): v is number => v !== undefined);
    out(
      `  ${pad(line.label, 44)}${pad(`${fmt(line.baseline.perSecond, 0)} (${fmt(line.baseline.p50, 1)}/${fmt(line.baseline.p99, 1)})`, 26)}${pad(fmt(line.jobs.perSecond, 1), 8)}${pad(fmt(line.jobs.perSecond / line.baseline.perSecond, 3), 7)}${pad(pair(ok.map((s) => s.post)), 14)}${pad(pair(ok.map((s) => s.succeeded)), 20)}${pad(pair(stored), 18)}${pad(fmt(p(stored, 50) - line.dispatchMeanMs, 1), 9)}${pad(fmt(p(afterAccepted, 50), 1), 16)}${pad(fmt(run, 1), 7)}${pad(fmt(p(ok.map((s) => s.post), 50) + line.overheadMeanMs, 1), 15)}${non2xxOf(line.baselineStatuses) + non2xxOf(line.jobStatuses)}`,
    );
  }
  out();
  out('CPU per job (ms of CPU per succeeded job, by process) and per balance read (µs)');
  const cpuLabels = [...rows.map((row) => row.label), 'postgres', 'nats (machine)', SELF, OTHER];
  out(`  ${pad('line', 44)}${cpuLabels.map((label) => pad(label.replace(' (this process)', '').slice(0, 16), 17)).join('')}`);
  for (const line of lines) {
    out(`  ${pad(`${line.label}: job`, 44)}${cpuLabels.map((label) => pad(`${fmt(((line.jobsCpu.seconds[label] ?? 0) * 1e3) / Math.max(1, line.jobs.done), 2)} ms (${fmt(line.jobsCpu.percent[label] ?? 0, 0)}%)`, 17)).join('')}`);
    out(
      `  ${pad(`${line.label}: read`, 44)}${cpuLabels.map((label) => pad(`${fmt(((line.baselineCpu.seconds[label] ?? 0) * 1e6) / Math.max(1, line.baseline.done), 0)} µs (${fmt(line.baselineCpu.percent[label] ?? 0, 0)}%)`, 17)).join('')}`,
    );
  }
  out();
  out(`resident memory, MB (VmRSS; idle = median over 2 s after start; peak = highest ${CONFIG.sampleMs} ms sample during the line's text jobs; VmHWM = peak since start)`);
  const heads = ['idle', ...lines.map((line) => `peak ${line.concurrency}${line.users === 1 ? ' hot' : ''}`), 'after load', 'VmHWM idle', 'VmHWM end'];
  out(`  ${pad('process', 40)}${heads.map((head) => head.padStart(12)).join('')}`);
  const mbOf = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? '–' : fmt(bytes / MB, 0));
  for (const row of rows) {
    const cells = [idle.get(row.pid), ...lines.map((line) => line.peak.get(row.pid)), afterLoad.get(row.pid), hwmAtIdle.get(row.pid), hwm.get(row.pid)];
    out(`  ${pad(`${row.label} (${row.pid})`, 40)}${cells.map((cell) => mbOf(cell).padStart(12)).join('')}`);
  }
  const problems = system.output.filter((line) => /"level":("(warn|error|fatal)"|40|50|60)/.test(line));
  out(`service log lines at warn or above: ${problems.length}`);
  for (const line of problems.slice(-5)) out(`  ${line.slice(0, 600)}`);
  const restarts = (await system.status()).filter((instance) => instance.restarts > 0);
  if (restarts.length > 0) out(`RESTARTED: ${restarts.map((instance) => `${instance.instance} ×${instance.restarts}`).join(', ')}`);
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

/**
 * Chat from outside, as a user sees it (issue 10: "messages per second end to end with the
 * local contractor"): the system exactly as `npm start` runs it (startSystemProcess: the
 * compiled supervisor, migrate, its own nats-server, every service of the manifest, free
 * ports, NODE_ENV=production, LOG_LEVEL=warn, the master data key from the development
 * secrets it generates), the machine's PostgreSQL, every gateway rate limit at its
 * 1,000,000/min maximum, a signup grant of 1,000,000 energy, the contractor adapters at their
 * default (`local`, in process). Users register and log in through the API.
 *
 * First every user's poem-helper conversation is filled to the cap (100 stored messages),
 * so each measured send also trims: the steady state of anyone who chats a lot. Then lines,
 * each a closed loop at BENCH_CONCURRENCY in flight (2, 8) over BENCH_USERS users (8):
 *   baseline — GET /v1/billing/balance (gateway → NATS → billing → PostgreSQL): req/s, p50/p99;
 *   messages — POST /v1/assistants/poem-helper/messages {text}, answered 201 {message, reply}
 *              synchronously (moderation, sealing, reservation, reply through generation's
 *              egress, trim): messages/s, p50/p99, non-2xx, CPU per message by process.
 * Resident memory of every process: idle after start, peak during each message line, after
 * the load. At the end: stored messages per conversation (exactly 100 each), warn log lines,
 * restarts.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24 (it builds what
 * changed first, as npm start does; BENCH_BUILD=0 skips that):
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/chat-outside.bench.ts
 * Everything it creates (database, run directory) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ApiClient } from '@homiwork/api-client';
import { startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { databaseUrl, randomId } from '@homiwork/testing';
import { type Cleanup, createBenchDatabase, intEnv, intListEnv, out, pidsNamed, runBench, sleep } from './support/bench-kit.js';
import { cpuWindow, DISTURBED_PERCENT, OTHER, SELF, waitForQuietMachine, type CpuGroups, type CpuUsage } from './support/cpu.js';
import { closedLoop, type JobResult, type LoopResult } from './support/loops.js';
import { rssOfProc, sampleRss } from './support/memory.js';
import { Http } from './support/http.js';
import { buildSystem, MAX_RATE_LIMIT, outsideSystemEnv, processesOf, type ProcessRow } from './support/system.js';
import { fmt, MB } from './support/stats.js';

const CONFIG = {
  concurrency: intListEnv('BENCH_CONCURRENCY', '2,8', 1, 256),
  users: intEnv('BENCH_USERS', 8, 1, 256),
  /** Sends per message line, and discarded warm-up sends before each. */
  sends: intEnv('BENCH_SENDS', 300, 10, 100_000),
  warmup: intEnv('BENCH_WARMUP_SENDS', 20, 0, 10_000),
  /** Fill every conversation to the cap before measuring (0: start from empty ones). */
  fill: process.env.BENCH_FILL !== '0',
  baselineSeconds: intEnv('BENCH_BASELINE_SECONDS', 5, 1, 120),
  baselineWarmupSeconds: intEnv('BENCH_BASELINE_WARMUP_SECONDS', 1, 0, 60),
  sampleMs: intEnv('BENCH_SAMPLE_MS', 100, 10, 10_000),
  build: process.env.BENCH_BUILD !== '0',
  retries: intEnv('BENCH_RETRIES', 1, 0, 20),
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 60, 0, 3_600),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 600_000, 60_000, 7_200_000),
};
const SIGNUP_GRANT = 1_000_000;
const ASSISTANT = 'poem-helper';
/** ChatRpc.STORED_MESSAGES_PER_ASSISTANT; a send stores two (the message and its reply). */
const CAP = 100;
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const TEXTS = ['A short poem about the first snow in the city', 'Make the second line rhyme with the fourth, please', 'Now something cheerful about autumn leaves', 'Could you make it shorter and a bit funnier?'];
const OTHER_BENCHES = ['events', 'identity', 'media', 'transport', 'billing', 'generation', 'chat'];

const cleanups: Cleanup[] = [];


const non2xx = (loop: LoopResult): number => Object.entries(loop.outcomes).reduce((sum, [outcome, n]) => (outcome.startsWith('2') ? sum : sum + n), 0);

async function startSystem(database: string, runDir: string): Promise<SystemProcess> {
  const system = await startSystemProcess(outsideSystemEnv({ url: databaseUrl(database), runDir, namespace: RUN_ID }, { ENERGY_SIGNUP_GRANT: String(SIGNUP_GRANT) }), { timeoutMs: 120_000 });
  cleanups.push({ what: 'stopping the system', run: () => system.stop() });
  return system;
}

async function createUsers(api: ApiClient, count: number): Promise<() => Promise<string[]>> {
  const logins: string[] = [];
  for (let index = 0; index < count; index++) {
    const tag = `${RUN_ID}c${index}`;
    await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
    logins.push(`bench_${tag}`);
  }
  return async () => {
    const tokens: string[] = [];
    for (const login of logins) tokens.push((await api.accounts.login({ login, password: PASSWORD })).accessToken);
    return tokens;
  };
}

/** One send; ok only for 201 with both messages answered and a reply text. */
function sender(http: Http, tokens: string[]): (index: number) => Promise<JobResult> {
  return async (index) => {
    const answer = await http.call('POST', `/v1/assistants/${ASSISTANT}/messages`, tokens[index % tokens.length], { text: TEXTS[index % TEXTS.length]! });
    if (answer.status !== 201) return { ok: false, outcome: String(answer.status), detail: answer.body.slice(0, 300) };
    const { message, reply } = JSON.parse(answer.body) as { message: { status: string }; reply: { role: string; text: string } };
    if (message.status !== 'answered' || reply.role !== 'assistant' || reply.text.length === 0) return { ok: false, outcome: '201 without a reply', detail: answer.body.slice(0, 300) };
    return { ok: true, outcome: '201' };
  };
}

interface Line {
  concurrency: number;
  baseline: LoopResult;
  messages: LoopResult;
  cpu: CpuUsage;
  peak: Map<number, number>;
}

async function measureLine(concurrency: number, http: Http, login: () => Promise<string[]>, rows: ProcessRow[], groups: CpuGroups): Promise<Line> {
  for (let attempt = 0; ; attempt++) {
    await waitForQuietMachine(CONFIG.quietWaitSeconds, OTHER_BENCHES);
    const tokens = await login();
    const balance = async (index: number): Promise<JobResult> => {
      const answer = await http.call('GET', '/v1/billing/balance', tokens[index % tokens.length]);
      return { ok: answer.status === 200, outcome: String(answer.status), detail: answer.body.slice(0, 300) };
    };
    if (CONFIG.baselineWarmupSeconds > 0) await closedLoop(concurrency, { seconds: CONFIG.baselineWarmupSeconds }, balance);
    const baseline = await closedLoop(concurrency, { seconds: CONFIG.baselineSeconds }, balance);

    const send = sender(http, tokens);
    if (CONFIG.warmup > 0) await closedLoop(concurrency, { jobs: CONFIG.warmup }, send);
    await sleep(300);
    const sampler = sampleRss(
      rows.map((row) => row.pid),
      CONFIG.sampleMs,
    );
    const window = cpuWindow(groups);
    const messages = await closedLoop(concurrency, { jobs: CONFIG.sends }, send);
    const cpu = window.stop();
    const { peak } = await sampler.stop();

    const line: Line = { concurrency, baseline, messages, cpu, peak };
    out(`  ${concurrency} in flight, ${tokens.length} users`);
    out(`    baseline GET /v1/billing/balance: ${fmt(baseline.perSecond, 0)} req/s, p50/p99 ${fmt(baseline.p50, 1)}/${fmt(baseline.p99, 1)} ms, answers ${JSON.stringify(baseline.outcomes)}`);
    out(`    POST /v1/assistants/${ASSISTANT}/messages: ${fmt(messages.perSecond, 1)} msg/s, p50/p99 ${fmt(messages.p50, 1)}/${fmt(messages.p99, 1)} ms, answers ${JSON.stringify(messages.outcomes)}`);
    if (messages.firstFailure) out(`      first failure: ${messages.firstFailure}`);
    const labels = [...rows.map((row) => row.label), 'postgres', SELF, OTHER];
    out(
      `      CPU per message: ${labels
        .filter((label) => (cpu.percent[label] ?? 0) >= 0.5)
        .map((label) => `${label.replace(' (this process)', '')} ${fmt(((cpu.seconds[label] ?? 0) * 1e3) / Math.max(1, messages.done), 2)} ms (${fmt(cpu.percent[label]!, 0)}%)`)
        .join(', ')}`,
    );
    const other = cpu.percent[OTHER] ?? 0;
    if (other <= DISTURBED_PERCENT || attempt >= CONFIG.retries) return line;
    out(`    measuring again (${attempt + 1}/${CONFIG.retries}): other processes used ${fmt(other, 0)}% of one core`);
  }
}

async function main(): Promise<void> {
  const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  out(`chat outside bench ${RUN_ID} — Node ${process.version}, ${cpus().length} cores; load generator on the same cores; load average at start ${loadavg()}`);
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
  if (!instances.some((instance) => instance.service === 'chat' && instance.pid)) throw new Error('no running chat instance in the supervisor status');
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s as npm start runs it (NODE_ENV=production, LOG_LEVEL=warn, rate limits ${MAX_RATE_LIMIT}/min, signup grant ${SIGNUP_GRANT})`);
  out(`processes: ${rows.map((row) => `${row.label} ${row.pid}`).join(', ')}`);

  const api = new ApiClient({ baseUrl: system.apiUrl });
  const login = await createUsers(api, CONFIG.users);
  const http = new Http(system.apiUrl);
  cleanups.push({ what: 'closing the HTTP agent', run: () => Promise.resolve(http.close()) });

  await sleep(3_000);
  const idleSampler = sampleRss(
    rows.map((row) => row.pid),
    CONFIG.sampleMs,
  );
  await sleep(2_000);
  const idle = (await idleSampler.stop()).median;

  if (CONFIG.fill) {
    // Index round-robin over the users: CAP / 2 sends each leaves every conversation exactly full.
    const fillStarted = performance.now();
    const fill = await closedLoop(8, { jobs: (CAP / 2) * CONFIG.users }, sender(http, await login()));
    out(`filled ${CONFIG.users} conversations to ${CAP} stored messages: ${fill.done} sends in ${fmt((performance.now() - fillStarted) / 1000)} s, answers ${JSON.stringify(fill.outcomes)}`);
  }

  const groups: CpuGroups = Object.fromEntries(rows.map((row) => [row.label, () => [row.pid]]));
  groups.postgres = () => pidsNamed('postgres');
  out();
  out(`load average before the lines: ${loadavg()}`);
  out(`each line: ${CONFIG.baselineWarmupSeconds} s warm-up + ${CONFIG.baselineSeconds} s of GET /v1/billing/balance, then ${CONFIG.warmup} warm-up + ${CONFIG.sends} sends, closed loops at the same in-flight count`);
  const lines: Line[] = [];
  for (const concurrency of CONFIG.concurrency) lines.push(await measureLine(concurrency, http, login, rows, groups));
  out(`load average after the lines: ${loadavg()}`);
  await sleep(2_000);
  const afterLoad = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).rss]));
  const hwm = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).hwm]));

  // The cap from outside (what each user reads) and inside (the rows).
  const tokens = await login();
  const read = await Promise.all(tokens.map(async (token) => (JSON.parse((await http.call('GET', `/v1/assistants/${ASSISTANT}/messages`, token)).body) as { items: unknown[] }).items.length));
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  const stored = (await client.query<{ n: string }>('SELECT count(*) AS n FROM chat.messages GROUP BY user_id, assistant_id ORDER BY 1')).rows.map((row) => Number(row.n));
  const unanswered = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM chat.messages WHERE status = 'unanswered'`)).rows[0]!.n);
  await client.end();
  out(`check: messages read per user ${JSON.stringify(read)}; rows per conversation ${JSON.stringify(stored)}; unanswered ${unanswered}`);

  out();
  out('summary (latencies in ms)');
  out('| in flight | users | messages/s | p50 / p99 | non-2xx | baseline GET /v1/billing/balance req/s (p50 / p99) | ratio | chat CPU/msg | all CPU/msg |');
  out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const line of lines) {
    const chat = rows.filter((row) => row.service === 'chat').reduce((sum, row) => sum + (line.cpu.seconds[row.label] ?? 0), 0);
    const all = Object.entries(line.cpu.seconds).reduce((sum, [label, seconds]) => (label === OTHER ? sum : sum + seconds), 0);
    const perMsg = (seconds: number) => `${fmt((seconds * 1e3) / Math.max(1, line.messages.done), 1)} ms`;
    out(
      `| ${line.concurrency} | ${CONFIG.users} | ${fmt(line.messages.perSecond, 1)} | ${fmt(line.messages.p50, 1)} / ${fmt(line.messages.p99, 1)} | ${non2xx(line.messages) + non2xx(line.baseline)} | ${fmt(line.baseline.perSecond, 0)} (${fmt(line.baseline.p50, 1)} / ${fmt(line.baseline.p99, 1)}) | ${fmt(line.messages.perSecond / line.baseline.perSecond, 3)} | ${perMsg(chat)} | ${perMsg(all)} |`,
    );
  }
  out();
  out(`resident memory, MB (VmRSS; idle = median over 2 s after start; peak = highest ${CONFIG.sampleMs} ms sample during the line's sends; after = 2 s after the load)`);
  const heads = ['idle', ...lines.map((line) => `peak ${line.concurrency}`), 'after load', 'VmHWM'];
  out(`| process | ${heads.join(' | ')} |`);
  out(`|---|${heads.map(() => '---:').join('|')}|`);
  const mbOf = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? '–' : fmt(bytes / MB, 0));
  for (const row of rows) {
    const cells = [idle.get(row.pid), ...lines.map((line) => line.peak.get(row.pid)), afterLoad.get(row.pid), hwm.get(row.pid)];
    out(`| ${row.label} | ${cells.map(mbOf).join(' | ')} |`);
  }
  const problems = system.output.filter((line) => /"level":("(warn|error|fatal)"|40|50|60)/.test(line));
  out(`service log lines at warn or above: ${problems.length}`);
  for (const line of problems.slice(-5)) out(`  ${line.slice(0, 600)}`);
  const restarts = (await system.status()).filter((instance) => instance.restarts > 0);
  if (restarts.length > 0) out(`RESTARTED: ${restarts.map((instance) => `${instance.instance} ×${instance.restarts}`).join(', ')}`);
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

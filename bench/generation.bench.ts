/**
 * Generation jobs end to end (issue 9, bench (a)): how many `text` jobs per second the
 * generation service takes from request to stored content with the local contractor, and
 * what the system itself adds to each job outside the contractor.
 *
 * One process: the generation service's Nest application exactly as it runs (RPC routes
 * over the machine's NATS, the job runner with GENERATION_CONCURRENCY runs, the egress and
 * its scrubber, moderation, the real PostgreSQL, the outbox relay publishing to JetStream)
 * — and, in a process of its own as `npm start` runs it, the embedded S3 server (s3rver;
 * its CPU is counted apart). Billing's energy.reserve and
 * identity's identifiers.get are answered by stand-ins on the same NATS (billing is being
 * written in parallel; the end-to-end suite runs the real pair), each a NATS round trip
 * like the real ones.
 *
 * Clients call generations.create in closed loops (BENCH_CONCURRENCY in flight) and each
 * waits until its job's run ends (the runner's in-process report, not polling). Per job:
 *   create  — the generations.create round trip as a client sees it (validation,
 *             moderation of the prompt, job insert, the reservation round trip, the
 *             reserved mark);
 *   run     — the runner's own timing of the run: `dispatch` (inside the contractor
 *             egress: scrubbing + the local contractor) and `overhead` (everything else:
 *             identifiers round trip, moderation of the result, S3 put, the final
 *             transaction with content row, job end and two events);
 *   own     — create + run overhead: the system's own cost per job outside the contractor
 *             (goal < 20 ms p50);
 *   e2e     — request sent → run ended, queueing included.
 * CPU of this process (service, stand-ins and clients together), postgres, nats-server and
 * everything else over each line, so a line measured on a busy machine can be told apart.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/generation.bench.ts
 * Knobs: BENCH_JOBS (per line, 400), BENCH_WARMUP_JOBS (40), BENCH_CONCURRENCY (in-flight
 * requests per line, '2,8,32'), BENCH_RUNNERS (GENERATION_CONCURRENCY, 2 as in production).
 */
import 'reflect-metadata';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { BillingRpc, GenerationRpc, IdentityRpc } from '@homiwork/contracts';
import { connectToNats, MessagingMetrics, RpcClient, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { startService } from '@homiwork/service-kit';
import { freePort } from '@homiwork/system-runner';
import { databaseUrl, randomId, TEST_NATS_URL } from '@homiwork/testing';
import { generationConfigSchema } from '../services/generation/src/config.js';
import { GenerationModule } from '../services/generation/src/generation.module.js';
import type { Job } from '../services/generation/src/persistence/jobs.repository.js';
import { JobRunner } from '../services/generation/src/usecases/run-job/job-runner.js';
import type { RunReport } from '../services/generation/src/usecases/run-job/run-job.usecase.js';
import { type Cleanup, createBenchDatabase, intEnv, intListEnv, out, pidsNamed, removeNamespaceOnCleanup, runBench } from './support/bench-kit.js';
import { cpuWindow, OTHER, SELF } from './support/cpu.js';
import { closedLoop } from './support/loops.js';
import { fmt, pad, percentile } from './support/stats.js';

const CONFIG = {
  jobs: intEnv('BENCH_JOBS', 400, 10, 100_000),
  warmup: intEnv('BENCH_WARMUP_JOBS', 40, 0, 10_000),
  concurrency: intListEnv('BENCH_CONCURRENCY', '2,8,32', 1, 512),
  runners: intEnv('BENCH_RUNNERS', 2, 1, 64),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 1_200_000, 60_000, 7_200_000),
};
const GOAL_OWN_P50_MS = 20;
const PROMPTS = ['A warm birthday greeting for my colleague', 'A formal letter asking the landlord to fix the heating', 'Marketing copy for a small bakery opening on Monday', 'A thank-you note for the neighbours who watered the plants'];

const cleanups: Cleanup[] = [];

interface Measured {
  create: number;
  report: RunReport;
  e2e: number;
}

async function main(): Promise<void> {
  const runId = `benchgen${randomId(3)}`;
  const namespace = runId;
  await createBenchDatabase(runId, cleanups);
  const s3 = await startS3Process();
  const nats = await connectToNats(TEST_NATS_URL, 'generation-bench');
  cleanups.push({ what: 'closing NATS', run: () => nats.nc.close() });
  removeNamespaceOnCleanup(nats.nc, namespace, cleanups);

  // Stand-ins of billing and identity, speaking their contracts.
  const logger = createLogger({ service: 'generation-bench', level: 'silent' });
  const metrics = new MessagingMetrics(new ServiceMetrics('generation-bench'));
  const billing = new RpcServer(nats.nc, namespace, 'billing', logger, metrics);
  billing.serve(BillingRpc.ReserveEnergyRoute, () => Promise.resolve({ cost: 2, energy: 1_000_000 }));
  const identity = new RpcServer(nats.nc, namespace, 'identity', logger, metrics);
  identity.serve(IdentityRpc.GetIdentifiersRoute, (request) => Promise.resolve({ email: `someone.${request.userId.slice(0, 8)}@example.com`, username: `someone_${request.userId.slice(0, 8)}` }));
  cleanups.push({ what: 'stopping the stand-ins', run: () => Promise.all([billing.stop(), identity.stop()]) });

  const config = generationConfigSchema.parse({
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl(runId),
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(256 * 1024 * 1024),
    OPS_PORT: '0',
    S3_URL: s3.url,
    S3_BUCKET: s3.bucket,
    MEDIA_INTERNAL_URL: 'http://127.0.0.1:9',
    INTERNAL_API_TOKEN: randomUUID() + randomUUID(),
    GENERATION_CONCURRENCY: String(CONFIG.runners),
  });
  const service = await startService(GenerationModule.forRoot(config), config, { service: 'generation' });
  cleanups.push({ what: 'closing the generation service', run: () => service.close() });

  const finished = new Map<string, { report: RunReport; at: number }>();
  const waiting = new Map<string, (value: { report: RunReport; at: number }) => void>();
  service.app.get(JobRunner).onRunFinished((job: Job, report: RunReport) => {
    const ended = { report, at: performance.now() };
    const resolve = waiting.get(job.id);
    if (resolve) resolve(ended);
    else finished.set(job.id, ended);
  });
  const ended = (jobId: string) =>
    new Promise<{ report: RunReport; at: number }>((resolve) => {
      const already = finished.get(jobId);
      if (already) {
        finished.delete(jobId);
        resolve(already);
      } else waiting.set(jobId, resolve);
    });

  const rpc = new RpcClient(nats.nc, namespace, 30_000);
  const users = Array.from({ length: 64 }, () => randomUUID());
  const line = async (concurrency: number, jobs: number) => {
    const measured: Measured[] = [];
    const result = await closedLoop(concurrency, { jobs }, async (index) => {
      const userId = users[index % users.length]!;
      const sent = performance.now();
      const accepted = await rpc.call(GenerationRpc.CreateGenerationRoute, { kind: 'text', prompt: PROMPTS[index % PROMPTS.length]!, assistantStyle: 'greeting' }, { requestId: randomUUID(), userId });
      const create = performance.now() - sent;
      const end = await ended(accepted.id);
      waiting.delete(accepted.id);
      measured.push({ create, report: end.report, e2e: end.at - sent });
      return end.report.outcome === 'succeeded' ? { ok: true, outcome: 'succeeded' } : { ok: false, outcome: end.report.outcome };
    });
    return { result, measured };
  };

  out(`generation bench — ${CONFIG.jobs} text jobs per line, ${CONFIG.runners} runs at once (GENERATION_CONCURRENCY), local contractor`);
  if (CONFIG.warmup > 0) await line(Math.min(4, CONFIG.concurrency[0]!), CONFIG.warmup);
  out('');
  out(`${pad('in flight', 10)}${pad('jobs/s', 8)}${pad('create p50/p99', 16)}${pad('dispatch p50/p99', 18)}${pad('run overhead p50/p99', 22)}${pad('own p50/p99', 14)}${pad('e2e p50/p99', 16)}CPU % of one core`);
  const groups = { postgres: () => pidsNamed('postgres'), 'nats-server': () => pidsNamed('nats-server'), s3rver: () => [s3.pid] };
  for (const concurrency of CONFIG.concurrency) {
    const window = cpuWindow(groups);
    const { result, measured } = await line(concurrency, CONFIG.jobs);
    const cpu = window.stop();
    const ms = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return `${fmt(percentile(sorted, 50))}/${fmt(percentile(sorted, 99))}`;
    };
    const ok = measured.filter((m) => m.report.outcome === 'succeeded');
    const own = ok.map((m) => m.create + m.report.totalMs - m.report.dispatchMs);
    out(
      `${pad(String(concurrency), 10)}${pad(fmt(result.perSecond), 8)}${pad(ms(ok.map((m) => m.create)), 16)}${pad(ms(ok.map((m) => m.report.dispatchMs)), 18)}${pad(ms(ok.map((m) => m.report.totalMs - m.report.dispatchMs)), 22)}${pad(ms(own), 14)}${pad(ms(ok.map((m) => m.e2e)), 16)}` +
        `self ${fmt(cpu.percent[SELF] ?? 0, 0)}, postgres ${fmt(cpu.percent.postgres ?? 0, 0)}, nats ${fmt(cpu.percent['nats-server'] ?? 0, 0)}, s3rver ${fmt(cpu.percent.s3rver ?? 0, 0)}, other ${fmt(cpu.percent[OTHER] ?? 0, 0)}`,
    );
    if (result.done !== CONFIG.jobs) out(`  ${CONFIG.jobs - result.done} jobs did not succeed: ${JSON.stringify(result.outcomes)} ${result.firstFailure ?? ''}`);
    const ownP50 = percentile([...own].sort((a, b) => a - b), 50);
    out(`  own cost per job p50 ${fmt(ownP50)} ms: ${ownP50 < GOAL_OWN_P50_MS ? 'meets' : 'misses'} the goal of < ${GOAL_OWN_P50_MS} ms; CPU ${fmt(((cpu.seconds[SELF] ?? 0) * 1e3) / Math.max(1, result.done), 2)} ms of this process per job`);
  }
  out('');
  out('create: generations.create round trip; dispatch: inside the egress (scrub + local contractor); run overhead: the rest of the run;');
  out('own = create + run overhead (the system outside the contractor); e2e: request sent → run ended, queueing included. All ms.');
}

/** The embedded S3 server as `npm start` runs it: the compiled dev-infra process (built first, as npm start does). */
async function startS3Process(): Promise<{ url: string; bucket: string; pid: number }> {
  const build = spawnSync(process.execPath, ['node_modules/nx/dist/bin/nx.js', 'run', 'system:build', '--outputStyle=static'], { encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
  if (build.status !== 0) throw new Error(`building the system tools failed:\n${build.stdout}${build.stderr}`);
  const runDir = await mkdtemp(join(tmpdir(), 'generation-bench-'));
  cleanups.push({ what: 'removing the S3 directory', run: () => rm(runDir, { recursive: true, force: true }) });
  const child = spawn(process.execPath, ['dist/tools/system/src/dev-infra.js'], {
    env: { PATH: process.env.PATH, WANT_S3: '1', RUN_DIR: runDir, LOCAL_S3_PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push({ what: 'stopping the S3 server', run: () => new Promise((resolve) => (child.exitCode === null ? (child.once('exit', resolve), child.kill('SIGTERM')) : resolve(undefined))) });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const ready = (JSON.parse(line) as { ready?: { S3_URL?: string; S3_BUCKET?: string } }).ready;
    if (ready?.S3_URL && ready.S3_BUCKET) return { url: ready.S3_URL, bucket: ready.S3_BUCKET, pid: child.pid! };
  }
  throw new Error('the S3 server process ended before it was ready');
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

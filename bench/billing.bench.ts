/**
 * Energy reservations on one hot account (issue 9, bench (b)): 32 concurrent spenders of
 * the same balance on the machine's real PostgreSQL, three lines per round:
 *   1. update   — the floor: a plain conditional `UPDATE balances SET energy = energy - 1
 *                 WHERE user_id = $1 AND energy >= 1` of one row, autocommit, on a plain pg
 *                 pool of 32 connections;
 *   2. single   — billing's ReserveEnergy with one reservation per transaction: 32
 *                 instances of the use case (each its own per-account queue, so each batch
 *                 holds one reservation), 32 connections — the design without batching;
 *   3. usecase  — billing's ReserveEnergy as the service runs it: one instance, the
 *                 service's pool (10), reservations of the account that arrive while a
 *                 transaction is under way settled together in the next one.
 * Each reservation is the real thing: tombstone guard, reservation row, conditional debit
 * with its ledger entry. Reported: operations per second, p50/p99, the ratio to the plain
 * UPDATE, CPU of this process and of PostgreSQL; then the ledger is checked (balance = sum
 * of entries, one debit per reservation). Goal: ≥ 2,000 reservations/s on 2 cores.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/billing.bench.ts
 * Knobs: BENCH_CONCURRENCY (32), BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_ROUNDS
 * (3; each round measures every line, the machine's speed drifts), BENCH_PHASES
 * (`update,single,usecase`), BENCH_QUIET_WAIT_SECONDS. A line during which other processes used
 * more than 10 % of one core is marked. The database it creates is dropped at the end, also
 * on failure.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { SystemClock } from '@homiwork/clock';
import { loadConfig } from '@homiwork/config';
import { ServiceMetrics } from '@homiwork/observability';
import { createServiceDataSource, Database, runMigrations, Transactor, UserTombstones } from '@homiwork/persistence';
import { databaseUrl, randomId, TEST_NATS_URL } from '@homiwork/testing';
import { BillingMetrics } from '../services/billing/src/billing-metrics.js';
import { billingConfigSchema } from '../services/billing/src/config.js';
import { BILLING_MIGRATIONS } from '../services/billing/src/migrations/index.js';
import { EnergyLedgerRepository } from '../services/billing/src/persistence/energy-ledger.repository.js';
import { ReservationsRepository } from '../services/billing/src/persistence/reservations.repository.js';
import { ReserveEnergy } from '../services/billing/src/usecases/reserve-energy/reserve-energy.usecase.js';
import { type Cleanup, createBenchDatabase, intEnv, out, pidsNamed, runBench } from './support/bench-kit.js';
import { cpuWindow, disturbed, DISTURBED_PERCENT, OTHER, SELF, waitForQuietMachine } from './support/cpu.js';
import { closedLoop, type LoopResult } from './support/loops.js';
import { fmt, pad } from './support/stats.js';

const CONFIG = {
  concurrency: intEnv('BENCH_CONCURRENCY', 32, 1, 256),
  seconds: intEnv('BENCH_SECONDS', 10, 1, 300),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 2, 0, 60),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  phases: new Set((process.env.BENCH_PHASES ?? 'update,single,usecase').split(',').map((part) => part.trim())),
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 120, 0, 3_600),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 1_200_000, 30_000, 7_200_000),
};
const GOAL_PER_SECOND = 2_000;
/** Enough for every reservation the run can make: the balance never runs out mid-line. */
const HOT_BALANCE = 2_000_000_000;
const RUN_ID = `bench${randomId(3)}`;
const cleanups: Cleanup[] = [];

interface Line {
  name: string;
  result: LoopResult;
  cpu: Record<string, number>;
  disturbed: boolean;
}

async function measure(name: string, job: (worker: number) => Promise<void>): Promise<Line> {
  if (CONFIG.warmupSeconds > 0) await closedLoop(CONFIG.concurrency, { seconds: CONFIG.warmupSeconds }, async (_index, worker) => (await job(worker), { ok: true, outcome: 'ok' }));
  const window = cpuWindow({ postgres: () => pidsNamed('postgres') });
  const result = await closedLoop(CONFIG.concurrency, { seconds: CONFIG.seconds }, async (_index, worker) => {
    await job(worker);
    return { ok: true, outcome: 'ok' };
  });
  const usage = window.stop();
  if (result.firstFailure) throw new Error(`${name}: ${result.firstFailure}`);
  return { name, result, cpu: usage.percent, disturbed: disturbed(usage) };
}

function print(line: Line, baseline?: Line): void {
  const { result, cpu } = line;
  const ratio = baseline ? ` ratio ${fmt(result.perSecond / baseline.result.perSecond, 2)}` : '';
  out(
    `  ${pad(line.name, 36)} ${pad(`${fmt(result.perSecond, 0)}/s`, 9)} p50 ${pad(`${fmt(result.p50, 1)} ms`, 9)} p99 ${pad(`${fmt(result.p99, 1)} ms`, 9)}` +
      ` cpu: bench ${fmt(cpu[SELF] ?? 0, 0)}%, postgres ${fmt(cpu.postgres ?? 0, 0)}%, other ${fmt(cpu[OTHER] ?? 0, 0)}%${line.disturbed ? ` (DISTURBED: other > ${DISTURBED_PERCENT}%)` : ''}${ratio}`,
  );
}

async function main(): Promise<void> {
  const name = `${RUN_ID}_billing`;
  await createBenchDatabase(name, cleanups);
  const url = databaseUrl(name);
  const config = loadConfig(billingConfigSchema, { NODE_ENV: 'production', DATABASE_URL: url, NATS_URL: TEST_NATS_URL, PAYMENT_PROCESSOR: 'webhook', PAYMENT_PROCESSOR_URL: 'https://processor.invalid/orders', PAYMENT_WEBHOOK_SECRET: randomId(32), ENERGY_COSTS: 'song=30,image=10,poem=2,text=2,video=50,chat=1' });
  // The service's own pool, at the service's default size.
  const dataSource = await createServiceDataSource({ databaseUrl: url, schema: 'billing', migrations: BILLING_MIGRATIONS }).initialize();
  cleanups.push({ what: 'closing the data source', run: () => dataSource.destroy() });
  await runMigrations(dataSource);
  // Idle connections close quickly: the lines take turns with 32 connections each, and the machine's PostgreSQL is shared.
  const plain = new pg.Pool({ connectionString: url, max: CONFIG.concurrency, idleTimeoutMillis: 500, options: '-c search_path=billing' });
  cleanups.push({ what: 'closing the plain pool', run: () => plain.end() });

  const clock = new SystemClock();
  const metrics = new BillingMetrics(new ServiceMetrics('billing'));
  const useCaseOn = (source: typeof dataSource) => {
    const db = new Database(source);
    return new ReserveEnergy(new Transactor(source), new UserTombstones(db), new ReservationsRepository(db), new EnergyLedgerRepository(db), metrics, config, clock);
  };
  const reserve = useCaseOn(dataSource);

  const hot = randomUUID();
  const plainHot = randomUUID();
  await dataSource.query('INSERT INTO billing.balances (user_id, energy, updated_at) VALUES ($1, $3, now()), ($2, $3, now())', [hot, plainHot, HOT_BALANCE]);
  await dataSource.query("INSERT INTO billing.ledger_entries (user_id, delta, reason, order_id, created_at) VALUES ($1, $2, 'purchase', $3, now())", [hot, HOT_BALANCE, randomUUID()]);

  out(`billing bench: ${CONFIG.concurrency} concurrent spenders of one account, ${CONFIG.seconds} s per line after ${CONFIG.warmupSeconds} s warm-up, ${CONFIG.rounds} round(s)`);
  const pgSettings = await plain.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'max_connections') ORDER BY name");
  out(`postgres: ${(await plain.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version}; ${pgSettings.rows.map((row) => `${row.name}=${row.setting}`).join(', ')}`);
  const lines: Line[] = [];
  for (let round = 1; round <= CONFIG.rounds; round++) {
    await waitForQuietMachine(CONFIG.quietWaitSeconds, ['events', 'identity', 'media', 'generation']);
    out(`round ${round}:`);
    let baseline: Line | undefined;
    if (CONFIG.phases.has('update')) {
      baseline = await measure('plain conditional UPDATE (1 row)', async () => {
        const { rowCount } = await plain.query('UPDATE balances SET energy = energy - 1 WHERE user_id = $1 AND energy >= 1', [plainHot]);
        if (rowCount !== 1) throw new Error('the plain balance ran out');
      });
      print(baseline);
      lines.push(baseline);
    }
    if (CONFIG.phases.has('single')) {
      const wide = await createServiceDataSource({ databaseUrl: url, schema: 'billing', migrations: BILLING_MIGRATIONS, poolSize: CONFIG.concurrency }).initialize();
      try {
        const instances = Array.from({ length: CONFIG.concurrency }, () => useCaseOn(wide));
        const line = await measure('ReserveEnergy, 1 per transaction', async (worker) => {
          await instances[worker]!.execute({ userId: hot, reservationId: randomUUID(), purpose: 'chat' });
        });
        print(line, baseline);
        lines.push(line);
      } finally {
        await wide.destroy();
      }
    }
    if (CONFIG.phases.has('usecase')) {
      const line = await measure('ReserveEnergy (use case, batched)', async () => {
        await reserve.execute({ userId: hot, reservationId: randomUUID(), purpose: 'chat' });
      });
      print(line, baseline);
      lines.push(line);
    }
  }

  // The run must have kept the ledger's promises while going fast.
  const [check] = (
    await plain.query<{ balance: number; sum: string; reservations: string; debits: string }>(
      `SELECT (SELECT energy FROM balances WHERE user_id = $1) AS balance,
              (SELECT sum(delta) FROM ledger_entries WHERE user_id = $1) AS sum,
              (SELECT count(*) FROM reservations WHERE user_id = $1) AS reservations,
              (SELECT count(*) FROM ledger_entries WHERE user_id = $1 AND reason = 'reservation') AS debits`,
      [hot],
    )
  ).rows;
  const consistent = Number(check!.sum) === check!.balance && check!.reservations === check!.debits && check!.balance === HOT_BALANCE - Number(check!.reservations);
  out(`ledger after the run: ${check!.reservations} reservations, ${check!.debits} debits, balance ${check!.balance}, sum of entries ${check!.sum}: ${consistent ? 'consistent' : 'INCONSISTENT'}`);
  if (!consistent) throw new Error('the ledger is inconsistent after the run');

  const best = (lineName: string) => Math.max(...lines.filter((line) => line.name.startsWith(lineName)).map((line) => line.result.perSecond));
  if (CONFIG.phases.has('update')) out(`best plain UPDATE: ${fmt(best('plain conditional UPDATE'), 0)}/s`);
  if (CONFIG.phases.has('single')) out(`best ReserveEnergy one per transaction: ${fmt(best('ReserveEnergy, 1 per'), 0)}/s`);
  if (CONFIG.phases.has('usecase')) {
    const useCase = best('ReserveEnergy (use case');
    out(`best ReserveEnergy as the service runs it: ${fmt(useCase, 0)}/s — goal ≥ ${GOAL_PER_SECOND}/s: ${useCase >= GOAL_PER_SECOND ? 'met' : 'MISSED'}`);
    if (CONFIG.phases.has('update')) out(`ratio of the bests, use case / plain UPDATE: ${fmt(useCase / best('plain conditional UPDATE'), 2)}`);
  }
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);

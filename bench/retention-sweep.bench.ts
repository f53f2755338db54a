/**
 * Retention's policy clock (issue 11), one run on the machine's PostgreSQL and NATS:
 *   1. baseline — a plain batched SQL `DELETE` of BENCH_ITEMS due rows of `due_items`,
 *      BENCH_BATCH rows per statement (ctid-limited, oldest first), until none is left: the
 *      least any sweep must do.
 *   2. sweep — the same number of due upload items, fired by retention as it runs (its Nest
 *      application, RetentionModule, real relay and JetStream): from the start of the sweep
 *      until every item's UploadExpired is stored in JetStream and its row and outbox row are
 *      deleted. The sweep (FireDueItems: DELETE … FOR UPDATE SKIP LOCKED RETURNING, a
 *      multi-row outbox INSERT per batch, one transaction per batch) and the relay run
 *      concurrently, as in production; the sweep-alone time is printed too, to show which
 *      side limits. BENCH_INSTANCES retention instances share the work (SKIP LOCKED).
 *   Both tables are seeded with generate_series outside the timed part, spread over
 *   BENCH_USERS users, then VACUUM ANALYZE (this machine's PostgreSQL runs without
 *   autovacuum). Goal: ≥ 10,000 items/s from due to published and deleted.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/retention-sweep.bench.ts
 * Knobs: BENCH_ITEMS (1000000), BENCH_BATCH (RETENTION_BATCH_SIZE, 5000), BENCH_USERS (10000),
 * BENCH_INSTANCES (1).
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { EVENTS_STREAM, streamName } from '@homiwork/contracts';
import { startService, type StartedService } from '@homiwork/service-kit';
import { startLocalS3 } from '@homiwork/storage/local';
import { erasureServices, generateDevSecrets } from '@homiwork/system-runner';
import { databaseUrl, randomId, TEST_NATS_URL } from '@homiwork/testing';
import { PolicyClock } from '../services/retention/src/clock/index.js';
import { retentionConfigSchema } from '../services/retention/src/config.js';
import { RetentionModule } from '../services/retention/src/retention.module.js';
import { type Cleanup, createBenchDatabase, intEnv, out, removeNamespaceOnCleanup, runBench, waitUntil } from './support/bench-kit.js';
import { fmt } from './support/stats.js';

const CONFIG = {
  items: intEnv('BENCH_ITEMS', 1_000_000, 1_000, 10_000_000),
  batch: intEnv('BENCH_BATCH', 5_000, 1, 10_000),
  users: intEnv('BENCH_USERS', 10_000, 1, 1_000_000),
  instances: intEnv('BENCH_INSTANCES', 1, 1, 8),
};
const RUN_ID = `benchretention${randomId(3)}`;
const cleanups: Cleanup[] = [];

/** BENCH_ITEMS upload rows, due over the last day, of BENCH_USERS users; then fresh statistics. */
async function seed(pool: pg.Pool): Promise<void> {
  await pool.query(
    `INSERT INTO retention.due_items (kind, subject_id, user_id, basis_at, due_at)
     SELECT 'upload', gen_random_uuid(), users.id, now() - interval '8 days', now() - make_interval(secs => 86400.0 * i / $1)
       FROM generate_series(1, $1) AS i
       JOIN (SELECT row_number() OVER () - 1 AS n, gen_random_uuid() AS id FROM generate_series(1, $2)) AS users ON users.n = i % $2`,
    [CONFIG.items, CONFIG.users],
  );
  await pool.query('VACUUM ANALYZE retention.due_items');
}

async function count(pool: pg.Pool, table: string): Promise<number> {
  return Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM retention.${table}`)).rows[0]!.n);
}

async function baseline(pool: pg.Pool): Promise<number> {
  await seed(pool);
  const started = performance.now();
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM retention.due_items WHERE ctid = ANY (ARRAY(SELECT ctid FROM retention.due_items WHERE due_at <= now() ORDER BY due_at LIMIT $1))`,
      [CONFIG.batch],
    );
    if (!rowCount) break;
  }
  const seconds = (performance.now() - started) / 1000;
  if ((await count(pool, 'due_items')) !== 0) throw new Error('the baseline left rows behind');
  await pool.query('VACUUM ANALYZE retention.due_items');
  return seconds;
}

await runBench(
  async () => {
    await createBenchDatabase(RUN_ID, cleanups);
    const url = databaseUrl(RUN_ID);
    const namespace = RUN_ID;
    const nc = await connect({ servers: TEST_NATS_URL, name: 'retention-bench' });
    cleanups.push({ what: 'closing NATS', run: () => nc.close() });
    removeNamespaceOnCleanup(nc, namespace, cleanups);
    const s3 = await startLocalS3();
    cleanups.push({ what: 'stopping S3', run: () => s3.stop() });
    const secrets = generateDevSecrets();
    const config = retentionConfigSchema.parse({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: url,
      NATS_URL: TEST_NATS_URL,
      EVENT_NAMESPACE: namespace,
      EVENT_STREAM_MAX_BYTES: String(2 * 1024 ** 3),
      OPS_PORT: '0',
      S3_URL: s3.url,
      ERASURE_SERVICES: erasureServices(),
      RECEIPT_SIGNING_KEYS: secrets.RECEIPT_SIGNING_KEYS,
      DATA_KEYS_MASTER_KEYS: secrets.DATA_KEYS_MASTER_KEYS,
      // The bench starts the sweep itself.
      RETENTION_TICK_MS: String(3_600_000),
      RETENTION_AUDIT_INTERVAL_MS: String(3_600_000),
      RETENTION_BATCH_SIZE: String(CONFIG.batch),
    });
    const services: StartedService[] = [];
    for (let i = 0; i < CONFIG.instances; i++) {
      const service = await startService(RetentionModule.forRoot(config), config, { service: 'retention' });
      cleanups.push({ what: 'stopping retention', run: () => service.close() });
      services.push(service);
    }
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    cleanups.push({ what: 'closing the pool', run: () => pool.end() });
    const jsm = await jetstreamManager(nc);
    const stream = streamName(namespace, EVENTS_STREAM);

    out(`retention sweep bench: ${CONFIG.items.toLocaleString('en')} due upload items of ${CONFIG.users.toLocaleString('en')} users, batch ${CONFIG.batch}, ${CONFIG.instances} instance(s)`);
    const baselineSeconds = await baseline(pool);
    const baselineRate = CONFIG.items / baselineSeconds;
    out(`baseline  plain batched DELETE:          ${fmt(baselineSeconds, 2)} s  ${fmt(baselineRate, 0)} items/s`);

    await seed(pool);
    const published = async () => Number((await jsm.streams.info(stream)).state.messages);
    const before = await published();
    const started = performance.now();
    const fired = (await Promise.all(services.map((service) => service.app.get(PolicyClock).sweep()))).reduce((sum, n) => sum + n, 0);
    const sweptAt = performance.now();
    let seen = 0;
    await waitUntil(
      async () => {
        seen = (await published()) - before;
        return seen >= CONFIG.items && (await count(pool, 'outbox')) === 0;
      },
      600_000,
      () => `${seen} of ${CONFIG.items} published`,
      20,
    );
    const ended = performance.now();
    const seconds = (ended - started) / 1000;
    if (fired !== CONFIG.items || seen !== CONFIG.items) throw new Error(`fired ${fired}, published ${seen}, expected ${CONFIG.items} each`);
    if ((await count(pool, 'due_items')) !== 0) throw new Error('the sweep left due items behind');
    const rate = CONFIG.items / seconds;
    out(`sweep     due → published and deleted:  ${fmt(seconds, 2)} s  ${fmt(rate, 0)} items/s  (sweep alone ${fmt((sweptAt - started) / 1000, 2)} s, relay drained ${fmt((ended - sweptAt) / 1000, 2)} s after)`);
    out(`machine load average (1 min) at the end: ${fmt(loadavg()[0]!, 2)} on 2 cores (other sessions' work included)`);
    out(`ratio     sweep / baseline:             ${fmt(rate / baselineRate, 2)}×  ${rate >= 10_000 ? 'goal met' : 'goal missed'} (≥ 10,000 items/s)`);
  },
  cleanups,
  1_800_000,
);

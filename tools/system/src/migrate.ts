/**
 * One-shot preparation of a deployment (`npm start` runs it first; the compose `migrate`
 * service too): the database if missing, every manifest service's migrations in its own
 * schema, and the NATS resources: both JetStream streams (NATS_STREAM_REPLICAS copies each,
 * default 1; 3 on a JetStream cluster), every durable consumer of every
 * contract (with the configuration its contract gives) and the KV buckets. Services also
 * migrate their database at boot under an advisory lock; running this first makes a failed
 * migration stop the rollout before any service starts. NATS resources only this tool may
 * create: a service's NATS user can verify them, not create or change them
 * (libs/messaging/src/provisioning.ts).
 */
import 'reflect-metadata';
import pg from 'pg';
import { connectToNats, declaredConsumers, DEFAULT_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_STREAM_LIMITS, kvBuckets, provisionDurableConsumers, provisionKvBuckets, provisionStreams } from '@homiwork/messaging';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { loadDescriptor, SERVICE_MANIFEST } from '@homiwork/system-runner';

const say = (message: string): void => void process.stdout.write(`[migrate] ${message}\n`);

async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      say(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

const { DATABASE_URL, NATS_URL = 'nats://127.0.0.1:4222', EVENT_NAMESPACE = 'hw' } = process.env;
if (!DATABASE_URL) {
  process.stderr.write('config error: DATABASE_URL is required\n');
  process.exit(1);
}
await ensureDatabase(DATABASE_URL);
for (const entry of SERVICE_MANIFEST) {
  const { migrations } = await loadDescriptor(entry);
  if (migrations.length === 0) continue;
  const dataSource = await createServiceDataSource({ databaseUrl: DATABASE_URL, schema: entry.name, migrations: [...migrations] }).initialize();
  const applied = await runMigrations(dataSource);
  say(`${entry.name}: ${applied.length} migration(s) applied`);
  await dataSource.destroy();
}
// As the provisioning user when the server has users (NATS_USER/NATS_PASSWORD; see deploy/nats/).
const nats = await connectToNats(NATS_URL, 'migrate', { user: process.env.NATS_USER, password: process.env.NATS_PASSWORD });
const maxBytes = Number(process.env.EVENT_STREAM_MAX_BYTES ?? DEFAULT_STREAM_LIMITS.maxBytes);
// On a JetStream cluster, 3: every stream, durable (they inherit the stream's) and bucket
// keeps a copy on three servers and stays available while one is down.
const replicas = Number(process.env.NATS_STREAM_REPLICAS ?? DEFAULT_STREAM_LIMITS.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
  process.stderr.write('config error: NATS_STREAM_REPLICAS must be an integer from 1 to 5\n');
  process.exit(1);
}
const streams = await provisionStreams(nats.jsm, EVENT_NAMESPACE, { ...DEFAULT_STREAM_LIMITS, maxBytes, replicas });
say(`streams ready: ${streams.join(', ')}`);
const services = new Set<string>(SERVICE_MANIFEST.map((entry) => entry.name));
const durables = await provisionDurableConsumers(nats.jsm, EVENT_NAMESPACE, [...declaredConsumers().values()].filter((consumer) => services.has(consumer.service)));
say(`durable consumers ready: ${durables.join(', ')}`);
// The revocations' max age follows the access-token lifetime identity and the gateway are configured with.
const accessTokenTtlSeconds = Number(process.env.ACCESS_TOKEN_TTL_SECONDS ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS);
const buckets = await provisionKvBuckets(nats.nc, kvBuckets(EVENT_NAMESPACE, { accessTokenTtlSeconds, replicas }));
say(`KV buckets ready: ${buckets.join(', ')}`);
await nats.nc.close();

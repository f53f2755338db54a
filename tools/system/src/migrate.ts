/**
 * One-shot preparation of a deployment (`npm start` runs it first; the compose `migrate`
 * service too): the database if missing, every manifest service's migrations in its own
 * schema, and the JetStream streams. Services also migrate at boot under an advisory
 * lock; running this first makes a failed migration stop the rollout before any service
 * starts.
 */
import 'reflect-metadata';
import pg from 'pg';
import { connectToNats, DEFAULT_STREAM_LIMITS, provisionStreams } from '@homiwork/messaging';
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
const streams = await provisionStreams(nats.jsm, EVENT_NAMESPACE, { ...DEFAULT_STREAM_LIMITS, maxBytes });
say(`streams ready: ${streams.join(', ')}`);
await nats.nc.close();

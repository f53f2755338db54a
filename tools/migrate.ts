/**
 * One-shot preparation of a deployment (the compose `migrate` service): every service's
 * migrations, each in its own schema, and the JetStream streams. Services also migrate
 * at boot under an advisory lock; running this first makes a failed migration stop the
 * rollout before any service starts.
 */
import 'reflect-metadata';
import type { MigrationInterface } from 'typeorm';
import { connectToNats, DEFAULT_STREAM_LIMITS, provisionStreams } from '@homiwork/messaging';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { IDENTITY_MIGRATIONS } from '../services/identity/src/migrations/index.js';

const MIGRATIONS: Record<string, Array<new () => MigrationInterface>> = {
  identity: IDENTITY_MIGRATIONS,
};

const { DATABASE_URL, NATS_URL = 'nats://127.0.0.1:4222', EVENT_NAMESPACE = 'hw' } = process.env;
if (!DATABASE_URL) {
  process.stderr.write('config error: DATABASE_URL is required\n');
  process.exit(1);
}
for (const [schema, migrations] of Object.entries(MIGRATIONS)) {
  const dataSource = await createServiceDataSource({ databaseUrl: DATABASE_URL, schema, migrations }).initialize();
  const applied = await runMigrations(dataSource);
  process.stdout.write(`${schema}: ${applied.length} migration(s) applied\n`);
  await dataSource.destroy();
}
const nats = await connectToNats(NATS_URL, 'migrate');
const maxBytes = Number(process.env.EVENT_STREAM_MAX_BYTES ?? DEFAULT_STREAM_LIMITS.maxBytes);
const streams = await provisionStreams(nats.jsm, EVENT_NAMESPACE, { ...DEFAULT_STREAM_LIMITS, maxBytes });
process.stdout.write(`streams ready: ${streams.join(', ')}\n`);
await nats.nc.close();

import { spawnSync } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { TestProject } from 'vitest/node';
import { TEST_NATS_URL, randomId, runPrefix, withAdminClient } from './infrastructure.js';

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
  }
}

/**
 * The end-to-end suite runs the compiled services, as production does: build what changed
 * (Nx caches each project, so this costs about a second when nothing did).
 */
function buildServices(): void {
  const result = spawnSync(process.execPath, ['node_modules/nx/dist/bin/nx.js', 'run-many', '-t', 'build', '--projects=tag:type:service,system', '--outputStyle=static'], {
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
  if (result.status !== 0) throw new Error(`building the services failed:\n${result.stdout}${result.stderr}`);
}

/**
 * Builds the services, checks that the real PostgreSQL and NATS answer before any test
 * runs (a clear message beats a hundred time-outs), and removes every database and stream
 * the run created.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  buildServices();
  const runId = randomId(3);
  project.provide('runId', runId);
  await withAdminClient((client) => client.query('SELECT 1')).catch((error: unknown) => {
    throw new Error(`PostgreSQL is not reachable for tests: ${String(error)}`);
  });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'test-setup' }).catch((error: unknown) => {
    throw new Error(`NATS is not reachable for tests: ${String(error)}`);
  });
  await nc.close();

  return async () => {
    const prefix = runPrefix(runId);
    await withAdminClient(async (client) => {
      const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}\\_%`]);
      for (const row of rows) await client.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
    });
    const conn = await connect({ servers: TEST_NATS_URL, name: 'test-teardown' });
    const jsm = await jetstreamManager(conn);
    for await (const name of jsm.streams.names()) {
      // KV buckets live in streams named KV_<bucket>, and their buckets carry the prefix too.
      const lower = name.toLowerCase();
      if (lower.startsWith(prefix) || lower.startsWith(`kv_${prefix}`)) await jsm.streams.delete(name);
    }
    await conn.close();
  };
}

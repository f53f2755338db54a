import { inject } from 'vitest';
import { databaseUrl, randomId, runPrefix, withAdminClient } from './infrastructure.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the machine's PostgreSQL, dropped at the end of the run at the latest. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${runPrefix(inject('runId'))}_${randomId()}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: databaseUrl(name),
    drop: () =>
      withAdminClient(async (client) => {
        // Connections a pool is still closing get a moment to go: FORCE terminates them, and a
        // terminated client whose pool already let go of it raises an uncaught error in the test.
        for (let waited = 0; waited < 5_000; waited += 50) {
          const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0]!.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }).then(() => undefined),
  };
}

/**
 * A namespace for NATS subjects and stream names unique to one test, so tests running
 * in parallel (and earlier runs' leftovers) never see each other's messages.
 */
export function createTestNamespace(): string {
  return `${runPrefix(inject('runId'))}${randomId(3)}`;
}

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
    drop: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * A namespace for NATS subjects and stream names unique to one test, so tests running
 * in parallel (and earlier runs' leftovers) never see each other's messages.
 */
export function createTestNamespace(): string {
  return `${runPrefix(inject('runId'))}${randomId(3)}`;
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the machine's real PostgreSQL and NATS answer; tests never mock them. */
export const TEST_ADMIN_DATABASE_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function randomId(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

export function databaseUrl(name: string): string {
  const url = new URL(TEST_ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Prefix shared by every database and stream one test run creates, so teardown finds them all. */
export function runPrefix(runId: string): string {
  return `t${runId}`;
}

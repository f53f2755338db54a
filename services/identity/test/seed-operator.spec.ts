import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { ShiftableClock } from '@homiwork/clock';
import { Outbox } from '@homiwork/messaging';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';
import { IDENTITY_MIGRATIONS } from '../src/migrations/index.js';
import { seedOperator } from '../src/seed-operator.js';

let database: TestDatabase;
let dataSource: DataSource;
const clock = new ShiftableClock();

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'identity', migrations: IDENTITY_MIGRATIONS }).initialize();
  await runMigrations(dataSource);
});
afterAll(async () => {
  await dataSource.destroy();
  await database.drop();
});

describe('operator seed (the only way to the operator role)', () => {
  it('creates an operator account with an Argon2id hash and announces it', async () => {
    const outbox = new Outbox('identity', 'hw', clock);
    const result = await seedOperator(dataSource, { outbox, clock }, { email: 'ops@example.com', username: 'ops', password: 'a long operator passphrase' });
    expect(result.created).toBe(true);
    const [row] = await dataSource.query<Array<{ role: string; password_hash: string }>>('SELECT role, password_hash FROM identity.users WHERE id = $1', [result.userId]);
    expect(row!.role).toBe('operator');
    expect(row!.password_hash.startsWith('$argon2id$')).toBe(true);
    expect(await dataSource.query('SELECT type FROM identity.outbox')).toEqual([{ type: 'UserRegistered.v1' }]);
  });

  it('promotes an existing account instead of creating a second one', async () => {
    await dataSource.query("INSERT INTO identity.users (id, email, username, password_hash, created_at, last_seen_on) VALUES (gen_random_uuid(), 'Existing@example.com', 'existing', 'x', now(), current_date)");
    const result = await seedOperator(dataSource, { outbox: new Outbox('identity', 'hw', clock), clock }, { email: 'existing@example.com', username: 'ignored', password: 'irrelevant passphrase' });
    expect(result.created).toBe(false);
    const rows = await dataSource.query<Array<{ role: string }>>("SELECT role FROM identity.users WHERE lower(email) = 'existing@example.com'");
    expect(rows).toEqual([{ role: 'operator' }]);
  });

  it('refuses a malformed email', async () => {
    await expect(seedOperator(dataSource, { outbox: new Outbox('identity', 'hw', clock), clock }, { email: 'nope', username: 'ops2', password: 'a long operator passphrase' })).rejects.toThrow();
  });
});

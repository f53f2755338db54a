import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { ShiftableClock } from '@homiwork/clock';
import { Outbox } from '@homiwork/messaging';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';
import { IDENTITY_MIGRATIONS } from '../src/migrations/index.js';
import { OperatorSeedRefused, seedOperator } from '../src/seed-operator.js';

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
    const [row] = await dataSource.query<Array<{ role: string; password_hash: string }>>('SELECT role, password_hash FROM identity.users WHERE id = $1', [result.userId]);
    expect(row!.role).toBe('operator');
    expect(row!.password_hash.startsWith('$argon2id$')).toBe(true);
    expect(await dataSource.query('SELECT type FROM identity.outbox')).toEqual([{ type: 'UserRegistered.v1' }]);
  });

  // Defect 4: the account holding the address may be anyone's (registration proves no
  // ownership); promoting it would make its registrant an operator, with their password.
  it('refuses an email that is already registered: no promotion, the password and sessions untouched, nothing announced', async () => {
    await dataSource.query(
      "INSERT INTO identity.users (id, email, username, password_hash, created_at, last_seen_on) VALUES ('00000000-0000-4000-8000-000000000001', 'Existing@example.com', 'existing', 'registrant-hash', now(), current_date)",
    );
    await dataSource.query("INSERT INTO identity.sessions (id, user_id, created_at) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', now())");
    const outboxBefore = await dataSource.query('SELECT id FROM identity.outbox');
    const seeding = seedOperator(dataSource, { outbox: new Outbox('identity', 'hw', clock), clock }, { email: 'existing@example.com', username: 'opsnew', password: 'a long operator passphrase' });
    await expect(seeding).rejects.toBeInstanceOf(OperatorSeedRefused);
    await expect(seeding).rejects.toThrow(/already exists; it is not promoted/);
    await expect(seeding).rejects.not.toThrow(/existing@example\.com/i);
    const rows = await dataSource.query<Array<{ role: string; password_hash: string }>>("SELECT role, password_hash FROM identity.users WHERE lower(email) = 'existing@example.com'");
    expect(rows).toEqual([{ role: 'user', password_hash: 'registrant-hash' }]);
    expect(await dataSource.query("SELECT 1 FROM identity.sessions WHERE user_id = '00000000-0000-4000-8000-000000000001' AND revoked_at IS NULL")).toHaveLength(1);
    expect(await dataSource.query("SELECT 1 FROM identity.users WHERE username = 'opsnew'")).toEqual([]);
    expect(await dataSource.query('SELECT id FROM identity.outbox')).toEqual(outboxBefore);
  });

  it('refuses a username that is taken, and a password the registration rules refuse', async () => {
    const seed = (input: { email: string; username: string; password: string }) => seedOperator(dataSource, { outbox: new Outbox('identity', 'hw', clock), clock }, input);
    await expect(seed({ email: 'other@example.com', username: 'existing', password: 'a long operator passphrase' })).rejects.toThrow(/username already exists/);
    await expect(seed({ email: 'other@example.com', username: 'opsthree', password: 'password123' })).rejects.toBeInstanceOf(OperatorSeedRefused);
    await expect(seed({ email: 'other@example.com', username: 'opsthree', password: 'my opsthree passphrase' })).rejects.toBeInstanceOf(OperatorSeedRefused);
    expect(await dataSource.query("SELECT 1 FROM identity.users WHERE lower(email) = 'other@example.com'")).toEqual([]);
  });

  it('refuses a malformed email', async () => {
    await expect(seedOperator(dataSource, { outbox: new Outbox('identity', 'hw', clock), clock }, { email: 'nope', username: 'ops2', password: 'a long operator passphrase' })).rejects.toThrow();
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';
import { assertNoKeyRows, dataKeysStep, dumpDataKeys, dumpSchema, hasRestrictGuard, keepUnerasedKeys, libpqEnv, noServiceConnectedSql, readDumpRows, redactCredentials, restoreInOneTransaction, schemaStep, truncateKeyTablesSql, withSnapshot } from './postgres.js';

// The restore's database half against the real PostgreSQL: dumps taken as the backup takes
// them, restored all at once or not at all.

let database: TestDatabase;
let pool: pg.Pool;
let dir: string;
const ERASED = '00000000-0000-4000-8000-000000000001';
const KEPT = '00000000-0000-4000-8000-000000000002';

const count = async (table: string): Promise<number> => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  dir = await mkdtemp(join(tmpdir(), 'homiwork-restore-spec-'));
  await pool.query(`
    CREATE SCHEMA media; CREATE TABLE media.uploads (id int PRIMARY KEY);
    CREATE SCHEMA chat; CREATE TABLE chat.messages (id int PRIMARY KEY);
    CREATE TABLE chat.user_data_keys (user_id uuid PRIMARY KEY, wrapped text NOT NULL);
    CREATE SCHEMA odd; CREATE TABLE odd.user_data_keys (owner uuid PRIMARY KEY, wrapped text NOT NULL);
    INSERT INTO media.uploads VALUES (1); INSERT INTO chat.messages VALUES (1);
    INSERT INTO chat.user_data_keys VALUES ('${ERASED}', 'key of the erased'), ('${KEPT}', 'key of the kept');
    INSERT INTO odd.user_data_keys VALUES ('${ERASED}', 'a key the filter cannot place');`);
  await withSnapshot(database.url, async (snapshot) => {
    await dumpSchema(database.url, snapshot, 'media', join(dir, 'schema-media.dump'), []);
    await dumpSchema(database.url, snapshot, 'chat', join(dir, 'schema-chat.dump'), ['chat.user_data_keys']);
    await dumpDataKeys(database.url, snapshot, ['chat.user_data_keys'], join(dir, 'data-keys.dump'));
    await dumpDataKeys(database.url, snapshot, ['odd.user_data_keys'], join(dir, 'odd-keys.dump'));
  });
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const steps = (guard: string) => [schemaStep('media', join(dir, 'schema-media.dump'), guard), schemaStep('chat', join(dir, 'schema-chat.dump'), guard)];

describe('restoreInOneTransaction', () => {
  it('applies nothing when a service connects during the restore (the check before the last step raises)', async () => {
    await pool.query('INSERT INTO media.uploads VALUES (2); INSERT INTO chat.messages VALUES (2)');
    const service = new pg.Client({ connectionString: database.url, application_name: 'chat' });
    await service.connect();
    try {
      await expect(restoreInOneTransaction(database.url, steps(noServiceConnectedSql(['chat'])), 'SELECT 1;')).rejects.toThrow(/nothing of it was applied.*a service connected to the database during the restore/s);
    } finally {
      await service.end();
    }
    // Both schemas as they were: the first one's restore was rolled back with the rest.
    expect([await count('media.uploads'), await count('chat.messages')]).toEqual([2, 2]);
  });

  it('applies nothing when the SQL run last fails', async () => {
    await expect(restoreInOneTransaction(database.url, steps(noServiceConnectedSql(['chat'])), 'SELECT 1/0;')).rejects.toThrow(/division by zero/);
    expect([await count('media.uploads'), await count('chat.messages')]).toEqual([2, 2]);
  });

  it('replaces every schema by its dump, and loads the data keys without those of erased users', async () => {
    await restoreInOneTransaction(database.url, [...steps(noServiceConnectedSql(['chat'])), dataKeysStep(join(dir, 'data-keys.dump'), ['chat.user_data_keys'], new Set([ERASED]))], 'SELECT 1;');
    expect([await count('media.uploads'), await count('chat.messages')]).toEqual([1, 1]);
    expect((await pool.query<{ user_id: string }>('SELECT user_id FROM chat.user_data_keys')).rows.map((row) => row.user_id)).toEqual([KEPT]);
  });

  it('refuses a data-key table without a user_id column instead of loading its rows unfiltered', async () => {
    await pool.query('TRUNCATE odd.user_data_keys');
    await expect(restoreInOneTransaction(database.url, [dataKeysStep(join(dir, 'odd-keys.dump'), ['odd.user_data_keys'], new Set([ERASED]))], 'SELECT 1;')).rejects.toThrow(/without a user_id column/);
    expect(await count('odd.user_data_keys')).toBe(0);
    expect(() => keepUnerasedKeys(new Set())(['x', 'y'], ['owner', 'wrapped'])).toThrow(/without a user_id column/);
  });
});

// Review 2, finding 4: no key may enter the database by a schema dump, expired keys or not.
describe('data-key rows outside the key dump', () => {
  it('refuses a schema dump whose table of contents has data of a user_data_keys table', async () => {
    await expect(assertNoKeyRows(join(dir, 'schema-chat.dump'))).resolves.toBeUndefined();
    await withSnapshot(database.url, (snapshot) => dumpSchema(database.url, snapshot, 'chat', join(dir, 'chat-with-keys.dump'), []));
    await expect(assertNoKeyRows(join(dir, 'chat-with-keys.dump'))).rejects.toThrow(/carries rows of a data-key table/);
  });

  it('empties every key table of the restored schemas, and only those', async () => {
    await pool.query(`INSERT INTO chat.user_data_keys VALUES ('${ERASED}', 'k') ON CONFLICT DO NOTHING; INSERT INTO odd.user_data_keys VALUES ('${ERASED}', 'k') ON CONFLICT DO NOTHING`);
    await restoreInOneTransaction(database.url, [], truncateKeyTablesSql(['chat', 'media']));
    expect([await count('chat.user_data_keys'), await count('odd.user_data_keys')]).toEqual([0, 1]);
  });
});

describe('reading a dump', () => {
  it('answers the rows of one table, NULLs and escapes decoded', async () => {
    await pool.query("CREATE TABLE media.notes (id int, body text); INSERT INTO media.notes VALUES (1, E'tab\\there'), (2, NULL)");
    await withSnapshot(database.url, (snapshot) => dumpSchema(database.url, snapshot, 'media', join(dir, 'notes.dump'), []));
    expect(await readDumpRows(join(dir, 'notes.dump'), 'media', 'notes')).toEqual([
      { id: '1', body: 'tab\there' },
      { id: '2', body: null },
    ]);
  });
});

describe('credentials and client tools', () => {
  it('passes the connection through the libpq environment, never argv', () => {
    expect(libpqEnv('postgres://app:s%40cret@db.internal:6432/homiwork?sslmode=require')).toMatchObject({ PGHOST: 'db.internal', PGPORT: '6432', PGUSER: 'app', PGPASSWORD: 's@cret', PGDATABASE: 'homiwork', PGSSLMODE: 'require' });
  });

  it('carries every connection parameter the services use (certificates, options, socket directories) and refuses one it cannot', () => {
    const env = libpqEnv('postgres://app@%2Fvar%2Frun%2Fpostgresql/homiwork?sslmode=verify-full&sslrootcert=/etc/pg/ca.crt&options=-c%20statement_timeout%3D5000&application_name=media');
    expect(env).toMatchObject({ PGHOST: '/var/run/postgresql', PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/etc/pg/ca.crt', PGOPTIONS: '-c statement_timeout=5000', PGAPPNAME: 'backup' });
    expect(() => libpqEnv('postgres://app@db/homiwork?sslpassword=secret-value')).toThrow(/parameter "sslpassword"/);
    expect(() => libpqEnv('postgres://app@db/homiwork?sslpassword=secret-value')).not.toThrow(/secret-value/);
  });

  it('redacts credentials from any text it prints', () => {
    const text = 'connection to postgres://app:s3cret@db:5432/x failed; nats://u:p@n:4222; password=hunter2 rest';
    const redacted = redactCredentials(text);
    expect(redacted).not.toMatch(/s3cret|hunter2|u:p@/);
    expect(redacted).toContain('postgres://***@db:5432/x');
  });

  it('knows which client tools carry the \\restrict guard', () => {
    expect(hasRestrictGuard('pg_restore (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)')).toBe(true);
    expect(hasRestrictGuard('pg_restore (PostgreSQL) 15.13')).toBe(false);
    expect(hasRestrictGuard('psql (PostgreSQL) 17.6')).toBe(true);
    expect(hasRestrictGuard('psql (PostgreSQL) 16.9')).toBe(false);
    expect(hasRestrictGuard('psql (PostgreSQL) 18.0')).toBe(true);
    expect(hasRestrictGuard('pg_restore (PostgreSQL) 12.22')).toBe(false);
    expect(hasRestrictGuard('something else')).toBe(false);
  });
});

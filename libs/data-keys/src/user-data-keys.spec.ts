import { createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { SystemClock } from '@homiwork/clock';
import { CreateTombstones1765000000000, createServiceDataSource, Database, runMigrations, Transactor } from '@homiwork/persistence';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';
import { DataKeyDestroyedError, DataKeyError } from './errors.js';
import { MasterKeyring } from './master-keyring.js';
import { CreateUserDataKeys1766000000000, UserDataKeys } from './user-data-keys.js';

// Envelope encryption against the real PostgreSQL: the key table a service migration
// creates, per-user keys made once even under a race, tampering and misplacement caught
// by the AEAD tags, crypto-shredding, and master-key rotation by re-wrapping.

const SCHEMA = 'keys_test';
const clock = new SystemClock();
const masterKey = () => randomBytes(32);

let database: TestDatabase;
let dataSource: DataSource;
let db: Database;
let transactor: Transactor;

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: SCHEMA, migrations: [CreateTombstones1765000000000, CreateUserDataKeys1766000000000], poolSize: 12 }).initialize();
  await runMigrations(dataSource);
  db = new Database(dataSource);
  transactor = new Transactor(dataSource);
});
afterAll(async () => {
  await dataSource?.destroy();
  await database?.drop();
});

const v1 = masterKey();
const keyringV1 = new MasterKeyring(new Map([[1, v1]]));
const keysOf = (keyring: MasterKeyring) => new UserDataKeys(db, keyring, clock);

interface KeyRow {
  wrapped: Buffer;
  master_version: number;
  key_version: number;
  created_at: Date;
}
const rowsOf = (userId: string) => dataSource.query<KeyRow[]>(`SELECT wrapped, master_version, key_version, created_at FROM ${SCHEMA}.user_data_keys WHERE user_id = $1`, [userId]);

const WAITING_ON_A_TRANSACTION =
  "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.datname = current_database() AND l.locktype = 'transactionid' AND NOT l.granted";

function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('UserDataKeys', () => {
  it('creates the table in the service schema through the migration', async () => {
    const columns = await dataSource.query<Array<{ column_name: string; data_type: string }>>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
      [SCHEMA, 'user_data_keys'],
    );
    expect(columns.map((column) => `${column.column_name} ${column.data_type}`)).toEqual([
      'user_id uuid',
      'wrapped bytea',
      'master_version integer',
      'key_version integer',
      'created_at timestamp with time zone',
    ]);
  });

  it('round-trips text, one key per user made on first use, a fresh nonce each time', async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    const texts = ['hello', '', 'Grüße 👋 — ünïcödé', 'x'.repeat(8000)];
    const sealed = [];
    for (const text of texts) sealed.push(await keys.seal(userId, text));
    for (const [index, { sealed: value, keyVersion }] of sealed.entries()) {
      expect(keyVersion).toBe(1);
      expect(value[0]).toBe(1);
      expect(value.length).toBe(Buffer.byteLength(texts[index]!) + 29);
      expect(await keys.open(userId, value)).toBe(texts[index]);
    }
    expect(await keys.openMany(userId, sealed.map((item) => item.sealed))).toEqual(texts);
    expect(await keys.openMany(userId, [])).toEqual([]);
    const again = await keys.seal(userId, 'hello');
    expect(again.sealed.equals(sealed[0]!.sealed)).toBe(false);
    expect(again.sealed.subarray(1, 13).equals(sealed[0]!.sealed.subarray(1, 13))).toBe(false);
    const rows = await rowsOf(userId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.master_version).toBe(1);
    expect(rows[0]!.key_version).toBe(1);
    expect(rows[0]!.wrapped.length).toBe(12 + 32 + 16);
    expect(Math.abs(rows[0]!.created_at.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('a value sealed for one user does not open for another (associated data), even one with a key', async () => {
    const keys = keysOf(keyringV1);
    const alice = randomUUID();
    const bob = randomUUID();
    const { sealed } = await keys.seal(alice, 'alice only');
    await keys.seal(bob, 'bob has a key too');
    await expect(keys.open(bob, sealed)).rejects.toThrow(DataKeyError);
    await expect(keys.open(bob, sealed)).rejects.not.toThrow(DataKeyDestroyedError);
    expect(await keys.open(alice, sealed)).toBe('alice only');
  });

  it("a wrapped key copied into another user's row does not unwrap there", async () => {
    const keys = keysOf(keyringV1);
    const alice = randomUUID();
    const mallory = randomUUID();
    const { sealed } = await keys.seal(alice, 'alice only');
    await keys.seal(mallory, 'mine');
    await dataSource.query(`UPDATE ${SCHEMA}.user_data_keys SET wrapped = (SELECT wrapped FROM ${SCHEMA}.user_data_keys WHERE user_id = $1) WHERE user_id = $2`, [alice, mallory]);
    // Mallory now holds Alice's wrapped key; without the wrap's binding this would open.
    await expect(keys.open(mallory, sealed)).rejects.toThrow(/wrapped data key failed authentication/);
  });

  it('any changed, missing or added byte of a sealed value is refused, with no data in the message', async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    const secret = 'the secret message';
    const { sealed } = await keys.seal(userId, secret);
    const attempts: Buffer[] = [];
    for (let index = 0; index < sealed.length; index++) {
      const changed = Buffer.from(sealed);
      changed[index] = changed[index]! ^ 0x01;
      attempts.push(changed);
    }
    attempts.push(sealed.subarray(0, sealed.length - 1), sealed.subarray(0, 10), Buffer.concat([sealed, Buffer.from([0])]), Buffer.alloc(0));
    for (const attempt of attempts) {
      const error = await keys.open(userId, attempt).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(DataKeyError);
      expect((error as Error).message).not.toContain(secret);
      expect((error as Error).message).not.toContain(userId);
    }
    // One bad value fails the whole batch rather than returning a partial list.
    await expect(keys.openMany(userId, [sealed, attempts[20]!])).rejects.toThrow(DataKeyError);
    expect(await keys.open(userId, sealed)).toBe(secret);
  });

  it("a changed wrapped key or relabelled master version is refused", async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    const { sealed } = await keys.seal(userId, 'text');
    await dataSource.query(`UPDATE ${SCHEMA}.user_data_keys SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1) WHERE user_id = $1`, [userId]);
    await expect(keys.open(userId, sealed)).rejects.toThrow(/wrapped data key failed authentication/);
    await dataSource.query(`UPDATE ${SCHEMA}.user_data_keys SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1) WHERE user_id = $1`, [userId]);
    expect(await keys.open(userId, sealed)).toBe('text');
    const both = new MasterKeyring(new Map([[1, v1], [2, masterKey()]]), 1);
    await dataSource.query(`UPDATE ${SCHEMA}.user_data_keys SET master_version = 2 WHERE user_id = $1`, [userId]);
    await expect(keysOf(both).open(userId, sealed)).rejects.toThrow(/wrapped data key failed authentication/);
  });

  it('after destroy the old ciphertext is unreadable for good: no key, not with the master key, not with a new key', async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    const { sealed } = await keys.seal(userId, 'forget me');
    const wrappedBefore = (await rowsOf(userId))[0]!.wrapped;
    expect(await keys.destroy(userId)).toBe(1);
    expect(await keys.destroy(userId)).toBe(0);
    expect(await rowsOf(userId)).toHaveLength(0);
    await expect(keys.open(userId, sealed)).rejects.toThrow(DataKeyDestroyedError);
    await expect(keys.openMany(userId, [sealed])).rejects.toThrow(DataKeyDestroyedError);
    // The master key is still configured, and alone it opens nothing: the data key is gone.
    const direct = createDecipheriv('aes-256-gcm', v1, sealed.subarray(1, 13));
    direct.setAAD(Buffer.concat([Buffer.from([1]), Buffer.from(userId)]));
    direct.setAuthTag(sealed.subarray(sealed.length - 16));
    direct.update(sealed.subarray(13, sealed.length - 16));
    expect(() => direct.final()).toThrow();
    // A later key for the same id (if a caller seals again) is a different key.
    await keys.seal(userId, 'new');
    expect((await rowsOf(userId))[0]!.wrapped.equals(wrappedBefore)).toBe(false);
    await expect(keys.open(userId, sealed)).rejects.toThrow(DataKeyError);
    // Only a backup of the key table (which must expire within the erasure deadline) would bring it back.
    await dataSource.query(`UPDATE ${SCHEMA}.user_data_keys SET wrapped = $2 WHERE user_id = $1`, [userId, wrappedBefore]);
    expect(await keys.open(userId, sealed)).toBe('forget me');
  });

  it("joins the caller's transaction: a rolled-back first seal leaves no key", async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    await expect(
      transactor.run(async () => {
        await keys.seal(userId, 'text');
        expect(await keys.open(userId, (await keys.seal(userId, 'again')).sealed)).toBe('again');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await rowsOf(userId)).toHaveLength(0);
    expect(await keys.destroy(userId)).toBe(0);
  });

  it('two first seals racing for a new user make one key, and both values open', async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    const firstInserted = gate();
    const release = gate();
    // The first transaction inserts the key and stays open; the second's insert must wait
    // for it on the primary key, then do nothing and use the first's key.
    const first = transactor.run(async () => {
      const sealed = await keys.seal(userId, 'first');
      firstInserted.open();
      await release.opened;
      return sealed;
    });
    await firstInserted.opened;
    const second = transactor.run(() => keys.seal(userId, 'second'));
    await expect.poll(async () => (await dataSource.query<Array<{ n: number }>>(WAITING_ON_A_TRANSACTION))[0]!.n).toBeGreaterThan(0);
    release.open();
    const [a, b] = await Promise.all([first, second]);
    expect(await rowsOf(userId)).toHaveLength(1);
    expect(await keys.openMany(userId, [a.sealed, b.sealed])).toEqual(['first', 'second']);

    // And a burst of first seals for another new user, each in its own transaction.
    const burstUser = randomUUID();
    const burst = await Promise.all(Array.from({ length: 10 }, (_, index) => transactor.run(() => keys.seal(burstUser, `m${index}`))));
    expect(await rowsOf(burstUser)).toHaveLength(1);
    expect(await keys.openMany(burstUser, burst.map((item) => item.sealed))).toEqual(Array.from({ length: 10 }, (_, index) => `m${index}`));
  });

  it('rotation: keys re-wrapped under the new master version in batches, old values still open, the old master key no longer needed', async () => {
    await dataSource.query(`DELETE FROM ${SCHEMA}.user_data_keys`);
    const v2 = masterKey();
    const users = Array.from({ length: 7 }, () => randomUUID());
    const sealed = new Map<string, Buffer>();
    for (const userId of users) sealed.set(userId, (await keysOf(keyringV1).seal(userId, `note of ${userId}`)).sealed);
    const wrappedBefore = new Map((await dataSource.query<Array<{ user_id: string; wrapped: Buffer }>>(`SELECT user_id, wrapped FROM ${SCHEMA}.user_data_keys`)).map((row) => [row.user_id, row.wrapped]));

    // Step 1: every instance learns v2 while still wrapping under v1 — nothing to do.
    const learning = keysOf(new MasterKeyring(new Map([[1, v1], [2, v2]]), 1));
    expect(await learning.rewrap(3)).toBe(0);
    // Without v1 nothing opens yet: rotation must not drop the old key before re-wrapping.
    await expect(keysOf(new MasterKeyring(new Map([[2, v2]]))).open(users[0]!, sealed.get(users[0]!)!)).rejects.toThrow('master key version 1 is not configured');

    // Step 2: v2 current; new keys are wrapped under v2, existing ones re-wrapped.
    const rotated = keysOf(new MasterKeyring(new Map([[1, v1], [2, v2]]), 2));
    const newcomer = randomUUID();
    const newcomerSealed = (await rotated.seal(newcomer, 'new user')).sealed;
    expect((await rowsOf(newcomer))[0]!.master_version).toBe(2);
    expect(await rotated.countByMasterVersion()).toEqual(new Map([[1, 7], [2, 1]]));
    expect(await rotated.rewrap(3)).toBe(7);
    expect(await rotated.rewrap(3)).toBe(0);
    expect(await rotated.countByMasterVersion()).toEqual(new Map([[2, 8]]));
    for (const userId of users) {
      const [row] = await rowsOf(userId);
      expect(row!.master_version).toBe(2);
      expect(row!.wrapped.equals(wrappedBefore.get(userId)!)).toBe(false);
      expect(await rotated.open(userId, sealed.get(userId)!)).toBe(`note of ${userId}`);
    }

    // Step 3: v1 removed from the configuration; everything still opens.
    const onlyV2 = keysOf(new MasterKeyring(new Map([[2, v2]])));
    for (const userId of users) expect(await onlyV2.open(userId, sealed.get(userId)!)).toBe(`note of ${userId}`);
    expect(await onlyV2.open(newcomer, newcomerSealed)).toBe('new user');
  });

  it('two instances re-wrapping at once share the work (SKIP LOCKED), each key once', async () => {
    await dataSource.query(`DELETE FROM ${SCHEMA}.user_data_keys`);
    const v2 = masterKey();
    const users = Array.from({ length: 40 }, () => randomUUID());
    const sealed = await Promise.all(users.map((userId) => keysOf(keyringV1).seal(userId, userId)));
    const rotated = new MasterKeyring(new Map([[1, v1], [2, v2]]), 2);
    const [a, b] = await Promise.all([keysOf(rotated).rewrap(4), keysOf(rotated).rewrap(4)]);
    expect(a + b).toBe(40);
    expect(await keysOf(rotated).countByMasterVersion()).toEqual(new Map([[2, 40]]));
    const onlyV2 = keysOf(new MasterKeyring(new Map([[2, v2]])));
    for (const [index, userId] of users.entries()) expect(await onlyV2.open(userId, sealed[index]!.sealed)).toBe(userId);
  });

  it('keys wrapped under a version the keyring lacks are left alone by rewrap, and rewrap refuses a bad batch size', async () => {
    await dataSource.query(`DELETE FROM ${SCHEMA}.user_data_keys`);
    const userId = randomUUID();
    await keysOf(keyringV1).seal(userId, 'x');
    const v3only = keysOf(new MasterKeyring(new Map([[2, masterKey()], [3, masterKey()]]), 3));
    expect(await v3only.rewrap(10)).toBe(0);
    expect((await rowsOf(userId))[0]!.master_version).toBe(1);
    await expect(v3only.rewrap(0)).rejects.toThrow(RangeError);
  });

  it('stores no plaintext: neither the text nor the data key appears in the table', async () => {
    const keys = keysOf(keyringV1);
    const userId = randomUUID();
    const text = `marker-${randomUUID()}`;
    const { sealed } = await keys.seal(userId, text);
    expect(sealed.includes(Buffer.from(text))).toBe(false);
    const dump = await dataSource.query<Array<{ dump: string }>>(`SELECT string_agg(t::text, '|') AS dump FROM ${SCHEMA}.user_data_keys t`);
    expect(dump[0]!.dump).not.toContain(text);
    expect(dump[0]!.dump).not.toContain(Buffer.from(text).toString('hex'));
  });
});

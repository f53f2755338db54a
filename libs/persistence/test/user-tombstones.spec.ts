import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase, eventually, type TestDatabase } from '@homiwork/testing';
import { CreateTombstones1765000000000, createServiceDataSource, Database, runMigrations, Transactor, UserErased, UserTombstones } from '../src/index.js';

// The tombstone rule's lock ordering on the real PostgreSQL (READ COMMITTED), with the
// two sides in separate transactions held open at the worst moment: a write past its
// guard holds off the purge (which then deletes it), a write arriving during the purge
// waits for it and is refused.

class CreateNotes1700000000000 implements MigrationInterface {
  name = 'CreateNotes1700000000000';
  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE notes (user_id uuid NOT NULL, text text NOT NULL)');
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE notes');
  }
}

let database: TestDatabase;
let dataSource: DataSource;
let other: DataSource;
let db: Database;
let transactor: Transactor;
let tombstones: UserTombstones;

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'first', migrations: [CreateNotes1700000000000, CreateTombstones1765000000000] }).initialize();
  other = await createServiceDataSource({ databaseUrl: database.url, schema: 'second', migrations: [CreateNotes1700000000000, CreateTombstones1765000000000] }).initialize();
  await runMigrations(dataSource);
  await runMigrations(other);
  db = new Database(dataSource);
  transactor = new Transactor(dataSource);
  tombstones = new UserTombstones(db);
});
afterAll(async () => {
  await dataSource?.destroy();
  await other?.destroy();
  await database?.drop();
});

function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const notesOf = async (userId: string) => (await dataSource.query<unknown[]>('SELECT 1 FROM first.notes WHERE user_id = $1', [userId])).length;
const waitingAdvisoryLocks = async () => (await dataSource.query<Array<{ n: number }>>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))[0]!.n;

/** A guarded write that stops, still in its transaction, until `release` opens. */
function heldWrite(source: { transactor: Transactor; tombstones: UserTombstones; db: Database }, userId: string, release: Promise<void>) {
  const guarded = gate();
  const done = source.transactor.run(async () => {
    await source.tombstones.guard(userId);
    guarded.open();
    await source.db.query('INSERT INTO notes (user_id, text) VALUES ($1, $2)', [userId, 'written']);
    await release;
  });
  return { guarded: guarded.opened, done };
}

/** The purge as services write it: the tombstone first, then the deletes, in one transaction. */
function purge(source: { transactor: Transactor; tombstones: UserTombstones; db: Database }, userId: string, beforeDelete: Promise<void> = Promise.resolve()) {
  return source.transactor.run(async () => {
    await source.tombstones.record(userId, new Date());
    await beforeDelete;
    const [, deleted] = await source.db.query<[unknown[], number]>('DELETE FROM notes WHERE user_id = $1', [userId]);
    return deleted;
  });
}

const first = () => ({ transactor, tombstones, db });

describe('UserTombstones (lock ordering under READ COMMITTED)', () => {
  it('a write already past its guard holds off the purge, which then deletes what it wrote', async () => {
    const userId = randomUUID();
    const release = gate();
    const write = heldWrite(first(), userId, release.opened);
    await write.guarded;
    let purged: number | undefined;
    const purging = purge(first(), userId).then((count) => (purged = count));
    await eventually(async () => (await waitingAdvisoryLocks()) === 1, { what: 'the purge waiting for the write' });
    expect(purged).toBeUndefined();
    release.open();
    await write.done;
    await purging;
    expect(purged).toBe(1);
    expect(await notesOf(userId)).toBe(0);
  });

  it('a write reaching its guard while the purge runs waits for it, then is refused and writes nothing', async () => {
    const userId = randomUUID();
    const release = gate();
    const purging = purge(first(), userId, release.opened);
    await eventually(async () => (await dataSource.query<unknown[]>("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND granted")).length === 1, {
      what: 'the purge holding the lock',
    });
    const write = heldWrite(first(), userId, Promise.resolve());
    await eventually(async () => (await waitingAdvisoryLocks()) === 1, { what: 'the write waiting for the purge' });
    const refused = expect(write.done).rejects.toBeInstanceOf(UserErased);
    release.open();
    expect(await purging).toBe(0);
    await refused;
    expect(await notesOf(userId)).toBe(0);
  });

  it('after the purge every guard refuses at once; recording again keeps the first time', async () => {
    const userId = randomUUID();
    expect(await tombstones.isErased(userId)).toBe(false);
    await purge(first(), userId);
    const [{ erased_at: firstTime }] = await dataSource.query<Array<{ erased_at: Date }>>('SELECT erased_at FROM first.tombstones WHERE user_id = $1', [userId]) as [{ erased_at: Date }];
    await purge(first(), userId);
    expect(await dataSource.query('SELECT erased_at FROM first.tombstones WHERE user_id = $1', [userId])).toEqual([{ erased_at: firstTime }]);
    expect(await tombstones.isErased(userId)).toBe(true);
    await expect(transactor.run(() => tombstones.guard(userId))).rejects.toBeInstanceOf(UserErased);
  });

  it('writers of one user do not wait for each other', async () => {
    const userId = randomUUID();
    const release = gate();
    const one = heldWrite(first(), userId, release.opened);
    const two = heldWrite(first(), userId, release.opened);
    await Promise.all([one.guarded, two.guarded]);
    release.open();
    await Promise.all([one.done, two.done]);
    expect(await notesOf(userId)).toBe(2);
  });

  it('guard and record refuse to run outside a transaction (the lock would end with the statement)', async () => {
    await expect(tombstones.guard(randomUUID())).rejects.toThrow(/must run inside Transactor.run/);
    await expect(tombstones.record(randomUUID(), new Date())).rejects.toThrow(/must run inside Transactor.run/);
  });

  it('locks are per schema: one service’s purge does not wait for another service’s write of the same user', async () => {
    const userId = randomUUID();
    const release = gate();
    const write = heldWrite(first(), userId, release.opened);
    await write.guarded;
    const second = { transactor: new Transactor(other), tombstones: new UserTombstones(new Database(other)), db: new Database(other) };
    expect(await purge(second, userId)).toBe(0);
    release.open();
    await write.done;
    expect(await notesOf(userId)).toBe(1);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';
import { createServiceDataSource, Database, runMigrations, Transactor, withinTransaction } from '../src/index.js';

class CreateNotes1700000000000 implements MigrationInterface {
  name = 'CreateNotes1700000000000';
  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE notes (text text NOT NULL)');
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE notes');
  }
}

let database: TestDatabase;
let dataSource: DataSource;
let other: DataSource;
let transactor: Transactor;
let db: Database;

/** A repository as services write them: no manager parameter, the ambient one is found. */
const notes = {
  add: (text: string) => db.query('INSERT INTO notes (text) VALUES ($1)', [text]),
  all: async () => (await dataSource.query<Array<{ text: string }>>('SELECT text FROM notes ORDER BY text')).map((row) => row.text),
};

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'first', migrations: [CreateNotes1700000000000] }).initialize();
  other = await createServiceDataSource({ databaseUrl: database.url, schema: 'second', migrations: [CreateNotes1700000000000] }).initialize();
  await runMigrations(dataSource);
  await runMigrations(other);
  transactor = new Transactor(dataSource);
  db = new Database(dataSource);
});
afterAll(async () => {
  await dataSource?.destroy();
  await other?.destroy();
  await database?.drop();
});
beforeEach(async () => {
  await dataSource.query('TRUNCATE notes');
});

describe('Transactor', () => {
  it('commits what repositories wrote inside run, on one connection', async () => {
    const pids = await transactor.run(async () => {
      await notes.add('a');
      await notes.add('b');
      return [await db.query<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid'), await db.query<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid')];
    });
    expect(pids[0]![0]!.pid).toBe(pids[1]![0]!.pid);
    expect(await notes.all()).toEqual(['a', 'b']);
  });

  it('rolls back everything when the work throws', async () => {
    await expect(
      transactor.run(async () => {
        await notes.add('lost');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await notes.all()).toEqual([]);
  });

  it('a nested run joins the outer transaction: the outer rollback undoes the inner work', async () => {
    await expect(
      transactor.run(async () => {
        await transactor.run(() => notes.add('inner'));
        expect(transactor.active).toBe(true);
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(await notes.all()).toEqual([]);
  });

  it('outside run, repositories use the pool and there is no transaction', async () => {
    expect(transactor.active).toBe(false);
    expect(() => db.transactionManager('an outbox append')).toThrow(/must run inside Transactor.run/);
    await notes.add('plain');
    expect(await notes.all()).toEqual(['plain']);
  });

  it('withinTransaction lends a transaction begun elsewhere (an event consumer batch) to repositories and run', async () => {
    await expect(
      dataSource.transaction(async (manager) => {
        await withinTransaction(manager, async () => {
          expect(db.transactionManager('test')).toBe(manager);
          await transactor.run(() => notes.add('handler'));
        });
        throw new Error('batch rolled back');
      }),
    ).rejects.toThrow('batch rolled back');
    expect(await notes.all()).toEqual([]);
  });

  it('never lends one DataSource’s transaction to another’s repositories', async () => {
    const otherDb = new Database(other);
    await other.query('TRUNCATE notes');
    await expect(
      transactor.run(async () => {
        expect(otherDb.manager).toBe(other.manager);
        expect(new Transactor(other).active).toBe(false);
        await otherDb.query('INSERT INTO notes (text) VALUES ($1)', ['second service']);
        throw new Error('first service rolls back');
      }),
    ).rejects.toThrow('first service rolls back');
    expect(await other.query('SELECT text FROM notes')).toEqual([{ text: 'second service' }]);
  });

  it('a transaction that has committed is no longer ambient for work that outlives it', async () => {
    let later: Promise<void> | undefined;
    await transactor.run(() => {
      later = new Promise<void>((resolve) => setTimeout(resolve, 20)).then(async () => {
        expect(transactor.active).toBe(false);
        await notes.add('after commit');
      });
      return Promise.resolve();
    });
    await later;
    expect(await notes.all()).toEqual(['after commit']);
  });
});

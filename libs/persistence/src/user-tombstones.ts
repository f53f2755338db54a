import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Database } from './transactor.js';

/**
 * The tombstones table, one row per erased user, in the schema of every service that
 * keeps data about users (include it in the service's migration list). A tombstone is an
 * opaque id and a time: it remembers that someone was erased, never who they were.
 */
export class CreateTombstones1765000000000 implements MigrationInterface {
  name = 'CreateTombstones1765000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE tombstones (user_id uuid PRIMARY KEY, erased_at timestamptz NOT NULL)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE tombstones');
  }
}

/** A write for a user who has been erased; services answer it with their own error. */
export class UserErased extends Error {
  constructor() {
    super('the user has been erased');
    this.name = 'UserErased';
  }
}

// One advisory-lock key per (schema, user): advisory locks are database-wide, and the
// services share a database in development and tests, so the schema keeps one service's
// purge from waiting on another service's writes.
const LOCK_KEY = "hashtextextended(current_schema() || ':tombstone:' || $1::text, 0)";

/**
 * Once a service has purged a user on UserDeleted, nothing for that user may be written
 * again — a request that began before the deletion (a 200 MB upload still streaming)
 * would otherwise leave data no purge will ever look for, and the purge receipt would
 * be false. The rule, race-free under READ COMMITTED:
 *
 * - every write for a user calls `guard(userId)` inside the write's transaction, before
 *   writing: it takes the user's lock in *shared* mode (writers never wait for each other)
 *   and then refuses if a tombstone exists;
 * - the purge calls `record(userId)` inside its transaction *before* deleting: it takes the
 *   same lock in *exclusive* mode, so it waits for every write already past its guard to
 *   commit (and then deletes what they wrote), and every later guard waits for the purge
 *   to commit and then sees the tombstone.
 *
 * Both locks are transaction-scoped (released at commit or rollback), and each statement
 * after the lock takes a fresh READ COMMITTED snapshot, which is why the check and the
 * deletes come after the lock in separate statements.
 */
export class UserTombstones {
  constructor(private readonly db: Database) {}

  /** Throws UserErased if the user has been erased; otherwise holds off the purge until this transaction ends. */
  async guard(userId: string): Promise<void> {
    const manager = this.db.transactionManager('a write guarded by the user tombstone');
    await manager.query(`SELECT pg_advisory_xact_lock_shared(${LOCK_KEY})`, [userId]);
    const found = await manager.query<unknown[]>('SELECT 1 FROM tombstones WHERE user_id = $1', [userId]);
    if (found.length > 0) throw new UserErased();
  }

  /**
   * Records the erasure (idempotent: a redelivered UserDeleted keeps the first time),
   * after every in-flight guarded write of the user has committed or rolled back.
   * Call it before deleting the user's data, in the same transaction.
   */
  async record(userId: string, erasedAt: Date): Promise<void> {
    const manager = this.db.transactionManager('recording a user tombstone');
    await manager.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`, [userId]);
    await manager.query('INSERT INTO tombstones (user_id, erased_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING', [userId, erasedAt]);
  }

  /** A cheap early answer (no lock): for refusing work before it starts, never instead of `guard`. */
  async isErased(userId: string): Promise<boolean> {
    return (await this.db.query<unknown[]>('SELECT 1 FROM tombstones WHERE user_id = $1', [userId])).length > 0;
  }
}

/** The Nest provider of UserTombstones, on the service's Database (list it after TRANSACTION_PROVIDERS). */
export const USER_TOMBSTONES_PROVIDER = { provide: UserTombstones, inject: [Database], useFactory: (db: Database) => new UserTombstones(db) };

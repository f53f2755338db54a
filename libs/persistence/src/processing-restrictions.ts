import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { EventPayload, ProcessingRestrictionChangedV1 } from '@homiwork/contracts';
import { Database, Transactor } from './transactor.js';
import { UserErased, UserTombstones } from './user-tombstones.js';

/**
 * R7.3: a service's copy of each user's processing restriction — retention's
 * ProcessingRestrictionChanged (a restriction of processing or an objection in force), kept
 * by every service that processes the user's data on request (generation, chat), which
 * refuses while it is in force. One row per user who ever had one; a user without a row is
 * not restricted. Purged with the user's other rows on UserDeleted.
 */
export class CreateProcessingRestrictions1766100000000 implements MigrationInterface {
  name = 'CreateProcessingRestrictions1766100000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE processing_restrictions (user_id uuid PRIMARY KEY, restricted boolean NOT NULL, changed_at timestamptz NOT NULL)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE processing_restrictions');
  }
}

export class ProcessingRestrictionsRepository {
  constructor(private readonly db: Database) {}

  async isRestricted(userId: string): Promise<boolean> {
    const [row] = await this.db.query<Array<{ restricted: boolean }>>('SELECT restricted FROM processing_restrictions WHERE user_id = $1', [userId]);
    return row?.restricted === true;
  }

  /**
   * Keeps the newest state by `changedAt`, so an older event delivered late changes nothing;
   * on a tie the later delivery wins (retention publishes one user's changes in order, under a
   * per-user lock). Returns whether applied.
   */
  async record(userId: string, restricted: boolean, changedAt: Date): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO processing_restrictions (user_id, restricted, changed_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET restricted = EXCLUDED.restricted, changed_at = EXCLUDED.changed_at
        WHERE processing_restrictions.changed_at <= EXCLUDED.changed_at
       RETURNING 1`,
      [userId, restricted, changedAt],
    );
    return rows.length === 1;
  }

  async deleteOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM processing_restrictions WHERE user_id = $1', [userId]);
    return count;
  }
}

/** The handler's use case: records a change in the consumer's transaction; an erased user's is dropped. */
export class RecordRestriction {
  constructor(
    private readonly transactor: Transactor,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly tombstones: UserTombstones,
  ) {}

  /** Whether this change was applied (false for a stale one or an erased user's). */
  async execute(change: EventPayload<typeof ProcessingRestrictionChangedV1>): Promise<boolean> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(change.userId);
        return this.restrictions.record(change.userId, change.restricted, new Date(change.changedAt));
      });
    } catch (error) {
      if (error instanceof UserErased) return false;
      throw error;
    }
  }
}

/** The Nest providers of both (list them after TRANSACTION_PROVIDERS and USER_TOMBSTONES_PROVIDER). */
export const PROCESSING_RESTRICTION_PROVIDERS = [
  { provide: ProcessingRestrictionsRepository, inject: [Database], useFactory: (db: Database) => new ProcessingRestrictionsRepository(db) },
  {
    provide: RecordRestriction,
    inject: [Transactor, ProcessingRestrictionsRepository, UserTombstones],
    useFactory: (transactor: Transactor, restrictions: ProcessingRestrictionsRepository, tombstones: UserTombstones) => new RecordRestriction(transactor, restrictions, tombstones),
  },
];

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/**
 * Chat's copy of each user's processing restriction (§9, R7.3: retention's
 * ProcessingRestrictionChanged — a restriction of processing or an objection in force).
 * One row per user who ever had one; the newest `changedAt` wins, so an older event
 * delivered late changes nothing. A user without a row is not restricted.
 */
@Injectable()
export class ProcessingRestrictionsRepository {
  constructor(private readonly db: Database) {}

  async isRestricted(userId: string): Promise<boolean> {
    const [row] = await this.db.query<Array<{ restricted: boolean }>>('SELECT restricted FROM processing_restrictions WHERE user_id = $1', [userId]);
    return row?.restricted === true;
  }

  /**
   * Keeps the newest state by `changedAt`; on a tie the later delivery wins (retention
   * publishes one user's changes in order, under a per-user lock). Returns whether applied.
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

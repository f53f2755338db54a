import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import type { PrimeStatus } from '../domain/content-retention.js';

interface PrimeStatusRow {
  active: boolean;
  expires_at: Date | null;
  changed_at: Date;
}

// One advisory-lock key per user for "the user's Prime status and the expiry of their
// content": schema-qualified like the tombstone lock, since services may share a database.
const LOCK_KEY = "hashtextextended(current_schema() || ':prime:' || $1::text, 0)";

/**
 * Generation's copy of each user's Prime status (from billing's PrimeStatusChanged), which
 * decides the expiry of their content (§5.4). Writers of content take the user's lock in
 * shared mode and the re-plan in exclusive mode, so an item stored while the status changes
 * is either seen by the re-plan or stored with the new status — never left on the old rule.
 */
@Injectable()
export class PrimeStatusRepository {
  constructor(private readonly db: Database) {}

  /** Before reading the status to store new content (inside its transaction). */
  async lockForNewContent(userId: string): Promise<void> {
    await this.db.transactionManager('storing content under the Prime lock').query(`SELECT pg_advisory_xact_lock_shared(${LOCK_KEY})`, [userId]);
  }

  /** Before changing the status and re-planning (inside its transaction). */
  async lockForReplan(userId: string): Promise<void> {
    await this.db.transactionManager('re-planning content under the Prime lock').query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`, [userId]);
  }

  async find(userId: string): Promise<PrimeStatus | undefined> {
    const [row] = await this.db.query<PrimeStatusRow[]>('SELECT active, expires_at, changed_at FROM prime_status WHERE user_id = $1', [userId]);
    return row && { active: row.active, expiresAt: row.expires_at, changedAt: row.changed_at };
  }

  /**
   * Keeps the newest status by `changedAt`: an older one arriving late (events of one user
   * may be delivered out of order) changes nothing. Returns whether this one was applied.
   */
  async record(userId: string, status: PrimeStatus): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO prime_status (user_id, active, expires_at, changed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE SET active = EXCLUDED.active, expires_at = EXCLUDED.expires_at, changed_at = EXCLUDED.changed_at
        WHERE prime_status.changed_at < EXCLUDED.changed_at
       RETURNING 1`,
      [userId, status.active, status.expiresAt, status.changedAt],
    );
    return rows.length === 1;
  }

  async deleteOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM prime_status WHERE user_id = $1', [userId]);
    return count;
  }
}

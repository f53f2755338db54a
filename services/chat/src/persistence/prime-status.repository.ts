import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import type { PrimeStatus } from '../domain/chat-retention.js';

/**
 * Chat's copy of each user's Prime status (billing's PrimeStatusChanged), which decides
 * whether their messages expire (§5.5). Read by the retention sweep's statement itself, so
 * no expiry is stored per message and nothing needs re-planning when the status changes.
 */
@Injectable()
export class PrimeStatusRepository {
  constructor(private readonly db: Database) {}

  async find(userId: string): Promise<PrimeStatus | undefined> {
    const [row] = await this.db.query<Array<{ active: boolean; expires_at: Date | null; changed_at: Date }>>('SELECT active, expires_at, changed_at FROM prime_status WHERE user_id = $1', [userId]);
    return row && { active: row.active, expiresAt: row.expires_at, changedAt: row.changed_at };
  }

  /** Keeps the newest status by `changedAt` (events of one user may arrive out of order). Returns whether this one was applied. */
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

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

export type HoldSource = 'operator' | 'prohibited_content';

export interface LegalHold {
  id: string;
  userId: string;
  reason: string;
  source: HoldSource;
  placedBy: string | null;
  placedAt: Date;
  releasedBy: string | null;
  releasedAt: Date | null;
}

interface HoldRow {
  id: string;
  user_id: string;
  reason: string;
  source: HoldSource;
  placed_by: string | null;
  placed_at: Date;
  released_by: string | null;
  released_at: Date | null;
}

const toHold = (row: HoldRow): LegalHold => ({
  id: row.id,
  userId: row.user_id,
  reason: row.reason,
  source: row.source,
  placedBy: row.placed_by,
  placedAt: row.placed_at,
  releasedBy: row.released_by,
  releasedAt: row.released_at,
});

const LIST_LIMIT = 1000;

/**
 * `legal_holds` (§12.2): every hold ever placed, its reason, who placed and released it
 * and when. Active = `released_at IS NULL`. Kept when the user is erased: it is the record
 * of why data was (or was not) kept, and it holds no personal data beyond the opaque id.
 */
@Injectable()
export class LegalHoldsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Serialises everything that decides between a hold and an erasure of this user
   * (opening an erasure, placing and releasing a hold) until the transaction ends, so a
   * hold placed at the moment an erasure opens either holds it or comes after its approval.
   */
  async lockUser(userId: string): Promise<void> {
    await this.db.transactionManager('locking a user against holds and erasures').query("SELECT pg_advisory_xact_lock(hashtextextended('retention:holds:' || $1::text, 0))", [userId]);
  }

  async hasActive(userId: string, source?: HoldSource): Promise<boolean> {
    const rows = source
      ? await this.db.query<unknown[]>('SELECT 1 FROM legal_holds WHERE user_id = $1 AND released_at IS NULL AND source = $2 LIMIT 1', [userId, source])
      : await this.db.query<unknown[]>('SELECT 1 FROM legal_holds WHERE user_id = $1 AND released_at IS NULL LIMIT 1', [userId]);
    return rows.length > 0;
  }

  async insert(hold: Omit<LegalHold, 'releasedBy' | 'releasedAt'>): Promise<void> {
    await this.db.query('INSERT INTO legal_holds (id, user_id, reason, source, placed_by, placed_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      hold.id,
      hold.userId,
      hold.reason,
      hold.source,
      hold.placedBy,
      hold.placedAt,
    ]);
  }

  async find(id: string): Promise<LegalHold | undefined> {
    const [row] = await this.db.query<HoldRow[]>('SELECT * FROM legal_holds WHERE id = $1', [id]);
    return row && toHold(row);
  }

  /** Releases an active hold; false when it was released already. */
  async release(id: string, releasedBy: string, releasedAt: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE legal_holds SET released_by = $2, released_at = $3 WHERE id = $1 AND released_at IS NULL', [id, releasedBy, releasedAt]);
    return count === 1;
  }

  async list(userId?: string): Promise<LegalHold[]> {
    const rows = userId
      ? await this.db.query<HoldRow[]>(`SELECT * FROM legal_holds WHERE user_id = $1 ORDER BY placed_at DESC, id LIMIT ${LIST_LIMIT}`, [userId])
      : await this.db.query<HoldRow[]>(`SELECT * FROM legal_holds ORDER BY placed_at DESC, id LIMIT ${LIST_LIMIT}`);
    return rows.map(toHold);
  }

  async activeUserIds(): Promise<string[]> {
    const rows = await this.db.query<Array<{ user_id: string }>>('SELECT DISTINCT user_id FROM legal_holds WHERE released_at IS NULL ORDER BY user_id');
    return rows.map((row) => row.user_id);
  }
}

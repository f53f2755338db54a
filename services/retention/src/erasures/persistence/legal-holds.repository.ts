import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import { keysetBefore, type PageCursor } from './erasures.repository.js';

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

/** What a hold's reason becomes once the erasure of its user completes. */
export const REDACTED_HOLD_REASON = 'redacted at erasure';

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

  /** Holds in force, for the metric (no user is named). */
  async countActive(): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM legal_holds WHERE released_at IS NULL');
    return row?.n ?? 0;
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

  /** Newest first (ties by id, descending), at most `limit`, after the cursor; `userId` narrows to one user. */
  async list(filter: { userId?: string } & PageCursor, limit: number): Promise<LegalHold[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.userId) {
      params.push(filter.userId);
      where.push(`user_id = $${params.length}`);
    }
    if (filter.before) where.push(keysetBefore('placed_at', filter, params));
    params.push(limit);
    const rows = await this.db.query<HoldRow[]>(`SELECT * FROM legal_holds ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY placed_at DESC, id DESC LIMIT $${params.length}`, params);
    return rows.map(toHold);
  }

  /** Those of `userIds` under an active hold (each once); the answer is never larger than the question. */
  async activeAmong(userIds: readonly string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.query<Array<{ user_id: string }>>('SELECT DISTINCT user_id FROM legal_holds WHERE released_at IS NULL AND user_id = ANY($1::uuid[]) ORDER BY user_id', [userIds]);
    return rows.map((row) => row.user_id);
  }

  /**
   * §5/§12.2: the operator's free-text reason goes with the erasure of the held user it was
   * about — replaced by REDACTED_HOLD_REASON, keeping the hold's source, times and who placed
   * and released it. Returns how many holds were redacted.
   */
  async redactReasons(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE legal_holds SET reason = $2 WHERE user_id = $1 AND reason <> $2', [userId, REDACTED_HOLD_REASON]);
    return count;
  }
}

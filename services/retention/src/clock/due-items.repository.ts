import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import type { DueKind, PrimePlan, PrimeStatus } from './due-dates.js';

/** A due item as the sweep takes it out of the table. */
export interface FiredItem {
  kind: DueKind;
  subjectId: string;
  userId: string;
  basisAt: Date;
  dueAt: Date;
}

// One advisory-lock key per (schema, user) for the user's Prime status: a Prime change
// takes it exclusively before it re-plans, every content or chat write takes it shared
// before it reads the status, so neither can miss the other's row under READ COMMITTED.
const PRIME_LOCK_KEY = "hashtextextended(current_schema() || ':prime:' || $1::text, 0)";

/**
 * The standard due date in SQL, the rule of due-dates.ts standardDueAt: null while Prime
 * keeps it, else max(basis, notBefore) + days. Days are counted as 24 hours (as addDays
 * does), never as calendar days of the session's time zone.
 */
const standardDue = (basis: string, kept: string, notBefore: string, days: string) =>
  `CASE WHEN ${kept}::boolean THEN NULL ELSE GREATEST(${basis}, COALESCE(${notBefore}::timestamptz, ${basis})) + make_interval(hours => 24 * (${days})::int) END`;

/**
 * The policy clock's tables: `due_items` (one row per thing that will be due, deleted when
 * its expiry event is written) and `prime_status` (the user's newest PrimeStatusChanged).
 * Every upsert is idempotent (a redelivered fact changes nothing) and order-tolerant (an
 * older fact arriving after a newer one changes nothing).
 */
@Injectable()
export class DueItemsRepository {
  constructor(private readonly db: Database) {}

  /** Shared: a content or chat write reading the user's Prime status. Exclusive: a Prime change. In the ambient transaction. */
  async lockPrime(userId: string, mode: 'shared' | 'exclusive'): Promise<void> {
    const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
    await this.db.transactionManager('the Prime lock').query(`SELECT ${fn}(${PRIME_LOCK_KEY})`, [userId]);
  }

  async findPrime(userId: string): Promise<PrimeStatus | undefined> {
    const [row] = await this.db.query<Array<{ active: boolean; expires_at: Date | null; changed_at: Date }>>('SELECT active, expires_at, changed_at FROM prime_status WHERE user_id = $1', [userId]);
    return row && { active: row.active, expiresAt: row.expires_at, changedAt: row.changed_at };
  }

  /** Keeps the newest status by `changedAt`; returns whether this one was applied. */
  async recordPrime(userId: string, status: PrimeStatus): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO prime_status (user_id, active, expires_at, changed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE SET active = EXCLUDED.active, expires_at = EXCLUDED.expires_at, changed_at = EXCLUDED.changed_at
        WHERE prime_status.changed_at < EXCLUDED.changed_at
       RETURNING 1`,
      [userId, status.active, status.expiresAt, status.changedAt],
    );
    return rows.length === 1;
  }

  /** Re-plans every content (outside the trash) and chat-history row of the user in one statement; returns how many. */
  async replan(userId: string, plan: PrimePlan, days: { content: number; chat: number }): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `UPDATE due_items SET due_at = ${standardDue('basis_at', '$2', '$3', "CASE kind WHEN 'content' THEN $4 ELSE $5 END")}
        WHERE user_id = $1 AND kind IN ('content', 'chat_history') AND NOT trashed`,
      [userId, plan.kept, plan.kept ? null : plan.notBefore, days.content, days.chat],
    );
    return count;
  }

  /** An upload's one due date; a repeat changes nothing. */
  async recordUpload(userId: string, uploadId: string, storedAt: Date, dueAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at) VALUES ('upload', $2, $1, $3, $4) ON CONFLICT (kind, subject_id) DO NOTHING`,
      [userId, uploadId, storedAt, dueAt],
    );
  }

  /**
   * Content was created. A row already there came from a delete or restore that arrived
   * first (its basis is that later time): the creation time replaces it, and the standard
   * due date is computed again unless the item is in the trash.
   */
  async recordContentCreated(userId: string, contentId: string, createdAt: Date, plan: PrimePlan, days: number): Promise<void> {
    await this.db.query(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at)
       VALUES ('content', $2, $1, $3, ${standardDue('$3::timestamptz', '$4', '$5', '$6')})
       ON CONFLICT (kind, subject_id) DO UPDATE SET
         basis_at = EXCLUDED.basis_at,
         due_at = CASE WHEN due_items.trashed THEN due_items.due_at ELSE EXCLUDED.due_at END
        WHERE due_items.basis_at > EXCLUDED.basis_at`,
      [userId, contentId, createdAt, plan.kept, plan.kept ? null : plan.notBefore, days],
    );
  }

  /** Content went to the trash at `deletedAt` (due then + trash days), unless a newer delete or restore was applied already. */
  async recordContentDeleted(userId: string, contentId: string, deletedAt: Date, dueAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, trashed, trash_changed_at, due_at)
       VALUES ('content', $2, $1, $3, true, $3, $4)
       ON CONFLICT (kind, subject_id) DO UPDATE SET trashed = true, trash_changed_at = EXCLUDED.trash_changed_at, due_at = EXCLUDED.due_at
        WHERE due_items.trash_changed_at IS NULL OR due_items.trash_changed_at < EXCLUDED.trash_changed_at`,
      [userId, contentId, deletedAt, dueAt],
    );
  }

  /** Content came back out of the trash: the standard rule again, from its creation, unless a newer delete or restore was applied already. */
  async recordContentRestored(userId: string, contentId: string, restoredAt: Date, plan: PrimePlan, days: number): Promise<void> {
    await this.db.query(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, trashed, trash_changed_at, due_at)
       VALUES ('content', $2, $1, $3, false, $3, ${standardDue('$3::timestamptz', '$4', '$5', '$6')})
       ON CONFLICT (kind, subject_id) DO UPDATE SET trashed = false, trash_changed_at = EXCLUDED.trash_changed_at,
         due_at = ${standardDue('due_items.basis_at', '$4', '$5', '$6')}
        WHERE due_items.trash_changed_at IS NULL OR due_items.trash_changed_at < EXCLUDED.trash_changed_at`,
      [userId, contentId, restoredAt, plan.kept, plan.kept ? null : plan.notBefore, days],
    );
  }

  /** The user chatted on a day (`dayEnd` is its end); a second message that day changes nothing. */
  async recordChatDay(userId: string, subjectId: string, dayEnd: Date, dueAt: Date | null): Promise<void> {
    await this.db.query(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at) VALUES ('chat_history', $2, $1, $3, $4) ON CONFLICT (kind, subject_id) DO NOTHING`,
      [userId, subjectId, dayEnd, dueAt],
    );
  }

  /**
   * The user was seen on a day ending at `basis`: the erasure row moves to it if that is
   * later (never back), and only then the warning row (a stale UserSeen after the warning
   * fired must not bring a second one). Returns whether anything moved.
   */
  async recordSeen(userId: string, basis: Date, warningAt: Date, erasureAt: Date): Promise<boolean> {
    const moved = await this.db.query<unknown[]>(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at) VALUES ('inactive_erasure', $1, $1, $2, $3)
       ON CONFLICT (kind, subject_id) DO UPDATE SET basis_at = EXCLUDED.basis_at, due_at = EXCLUDED.due_at WHERE due_items.basis_at < EXCLUDED.basis_at
       RETURNING 1`,
      [userId, basis, erasureAt],
    );
    if (moved.length === 0) return false;
    await this.db.query(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at) VALUES ('inactive_warning', $1, $1, $2, $3)
       ON CONFLICT (kind, subject_id) DO UPDATE SET basis_at = EXCLUDED.basis_at, due_at = EXCLUDED.due_at WHERE due_items.basis_at < EXCLUDED.basis_at`,
      [userId, basis, warningAt],
    );
    return true;
  }

  /**
   * Takes up to `limit` items due at `now` out of the table, oldest first, skipping users
   * under an active legal hold and rows another instance is taking (SKIP LOCKED). The rows
   * are gone only if the caller's transaction commits — with the expiry events it wrote.
   */
  async takeDue(now: Date, limit: number): Promise<FiredItem[]> {
    // A DELETE … RETURNING answers [rows, affectedCount] through TypeORM's pg driver.
    const [rows] = await this.db.query<[Array<{ kind: DueKind; subject_id: string; user_id: string; basis_at: Date; due_at: Date }>, number]>(
      // Deleted by ctid (a TID scan of the locked rows), not by joining on the key, which
      // makes the planner hash the whole table for every batch.
      `DELETE FROM due_items WHERE ctid = ANY (ARRAY(
         SELECT d.ctid FROM due_items d
          WHERE d.due_at <= $1
            AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.user_id = d.user_id AND h.released_at IS NULL)
            -- §5.2: no erasure of an inactive account before its warning went out (see postponeErasures)
            AND NOT (d.kind = 'inactive_erasure' AND EXISTS (SELECT 1 FROM due_items w WHERE w.kind = 'inactive_warning' AND w.subject_id = d.subject_id))
          ORDER BY d.due_at
          LIMIT $2
          FOR UPDATE OF d SKIP LOCKED))
       RETURNING kind, subject_id, user_id, basis_at, due_at`,
      [now, limit],
    );
    return rows.map((row) => ({ kind: row.kind, subjectId: row.subject_id, userId: row.user_id, basisAt: row.basis_at, dueAt: row.due_at }));
  }

  /**
   * After warnings went out: each warned user's erasure is due no earlier than `notBefore`
   * (the warning's notice period). Answers the erasure time per user, as the warning states it.
   */
  async postponeErasures(userIds: string[], notBefore: Date): Promise<Map<string, Date>> {
    // An UPDATE … RETURNING answers [rows, affectedCount] through TypeORM's pg driver.
    const [rows] = await this.db.query<[Array<{ subject_id: string; due_at: Date }>, number]>(
      `UPDATE due_items SET due_at = GREATEST(due_at, $2)
        WHERE kind = 'inactive_erasure' AND subject_id = ANY($1::uuid[]) AND due_at IS NOT NULL
        RETURNING subject_id, due_at`,
      [userIds, notBefore],
    );
    return new Map(rows.map((row) => [row.subject_id, row.due_at]));
  }

  /** Items due before `before` that should have fired (users under a hold are not counted: they wait on purpose). */
  async countOverdue(before: Date): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM due_items d
        WHERE d.due_at <= $1 AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.user_id = d.user_id AND h.released_at IS NULL)`,
      [before],
    );
    return row?.n ?? 0;
  }
}

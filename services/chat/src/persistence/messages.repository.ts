import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'answered' | 'unanswered';

/** A stored message; its text only sealed with the user's data key. */
export interface SealedMessage {
  id: string;
  userId: string;
  assistantId: string;
  role: MessageRole;
  sealed: Buffer;
  keyVersion: number;
  status: MessageStatus;
  createdAt: Date;
  /** Set once GenerationFinished is appended for a user message (or it costs nothing). */
  settledAt?: Date | null;
}

/** What settling a user message found: settled now, settled before (by the stale sweep), or gone. */
export type SettleOutcome = 'settled' | 'already_settled' | 'gone';

interface MessageRow {
  id: string;
  user_id: string;
  assistant_id: string;
  role: MessageRole;
  sealed: Buffer;
  key_version: number;
  status: MessageStatus;
  created_at: Date;
}

const COLUMNS = 'id, user_id, assistant_id, role, sealed, key_version, status, created_at';

function toMessage(row: MessageRow): SealedMessage {
  return { id: row.id, userId: row.user_id, assistantId: row.assistant_id, role: row.role, sealed: row.sealed, keyVersion: row.key_version, status: row.status, createdAt: row.created_at };
}

/**
 * "Newest" is (created_at, id) descending everywhere: timestamps are strictly increasing
 * within a conversation (SendMessage), the id only breaks ties of rows written elsewhere.
 */
@Injectable()
export class MessagesRepository {
  constructor(private readonly db: Database) {}

  /**
   * Locks the conversation, stores the message as its newest and trims the conversation to
   * the newest `keep` — one call of `store_message_capped` (migration 1766200000000), in
   * the caller's transaction, so no other transaction ever sees more than `keep` rows.
   * Returns the message's time: `now`, or 1 ms after the conversation's last message.
   * `settledOnCreation` stamps `settled_at` with that time (a message that costs nothing).
   */
  async storeCapped(message: Omit<SealedMessage, 'createdAt'>, now: Date, settledOnCreation: boolean, keep: number): Promise<Date> {
    const [row] = await this.db
      .transactionManager('storing a message (its conversation locked and trimmed)')
      .query<Array<{ created_at: Date }>>('SELECT store_message_capped($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS created_at', [
        message.id,
        message.userId,
        message.assistantId,
        message.role,
        message.sealed,
        message.keyVersion,
        message.status,
        now,
        message.settledAt ?? null,
        settledOnCreation,
        keep,
      ]);
    return row!.created_at;
  }

  /** A message alone, no lock, no trim: for the bench's baseline only. */
  async insertUncapped(message: SealedMessage): Promise<void> {
    await this.db.query(`INSERT INTO messages (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      message.id,
      message.userId,
      message.assistantId,
      message.role,
      message.sealed,
      message.keyVersion,
      message.status,
      message.createdAt,
    ]);
  }

  /** False when the message is gone (cleared, trimmed away, expired). */
  async markAnswered(id: string): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>("UPDATE messages SET status = 'answered' WHERE id = $1", [id]);
    return count === 1;
  }

  /**
   * Marks a user message settled at `at` (and answered, if `answered`), unless it was settled
   * before — the row locked, so a concurrent stale sweep and this take turns and exactly one
   * of them settles it.
   */
  async settle(id: string, at: Date, answered: boolean): Promise<SettleOutcome> {
    // pg answers an UPDATE with [rows, affectedCount].
    const [rows] = await this.db.query<[Array<{ was_settled: boolean }>, number]>(
      `WITH current AS (SELECT id, settled_at IS NOT NULL AS was_settled FROM messages WHERE id = $1 FOR UPDATE)
       UPDATE messages m SET settled_at = COALESCE(m.settled_at, $2), status = CASE WHEN $3 THEN 'answered' ELSE m.status END
         FROM current WHERE m.id = current.id
       RETURNING current.was_settled`,
      [id, at, answered],
    );
    if (rows.length === 0) return 'gone';
    return rows[0]!.was_settled ? 'already_settled' : 'settled';
  }

  /**
   * Up to `limit` user messages written before `before` and never settled, locked (rows a
   * sender or another sweep holds are skipped) and marked settled at `at`; returns them.
   */
  async settleStale(before: Date, at: Date, limit: number): Promise<Array<{ id: string; userId: string }>> {
    const [rows] = await this.db.query<[Array<{ id: string; user_id: string }>, number]>(
      `UPDATE messages SET settled_at = $2 WHERE id IN (
         SELECT id FROM messages WHERE settled_at IS NULL AND role = 'user' AND created_at < $1
          ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING id, user_id`,
      [before, at, limit],
    );
    return rows.map((row) => ({ id: row.id, userId: row.user_id }));
  }

  async deleteById(id: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM messages WHERE id = $1', [id]);
    return count;
  }

  async oldestFirst(userId: string, assistantId: string, limit: number): Promise<SealedMessage[]> {
    const rows = await this.db.query<MessageRow[]>(
      `SELECT ${COLUMNS} FROM (
         SELECT ${COLUMNS} FROM messages WHERE user_id = $1 AND assistant_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3
       ) newest ORDER BY created_at, id`,
      [userId, assistantId, limit],
    );
    return rows.map(toMessage);
  }

  /** The conversation up to and including `upTo`, newest first. */
  async newestUpTo(userId: string, assistantId: string, upTo: { createdAt: Date; id: string }, limit: number): Promise<SealedMessage[]> {
    const rows = await this.db.query<MessageRow[]>(
      `SELECT ${COLUMNS} FROM messages WHERE user_id = $1 AND assistant_id = $2 AND (created_at, id) <= ($3, $4)
        ORDER BY created_at DESC, id DESC LIMIT $5`,
      [userId, assistantId, upTo.createdAt, upTo.id, limit],
    );
    return rows.map(toMessage);
  }

  async deleteConversation(userId: string, assistantId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM messages WHERE user_id = $1 AND assistant_id = $2', [userId, assistantId]);
    return count;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM messages WHERE user_id = $1', [userId]);
    return count;
  }

  /** Messages due under §5.5 at `cutoff` (as `deleteDue`) and still stored (purge_backlog_items). */
  async countDue(cutoff: Date): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM messages m LEFT JOIN prime_status p ON p.user_id = m.user_id
        WHERE m.created_at <= $1 AND (p.user_id IS NULL OR (NOT p.active AND COALESCE(p.expires_at, p.changed_at) <= $1))`,
      [cutoff],
    );
    return row?.n ?? 0;
  }

  /**
   * A sweep's next candidates, unlocked: up to `limit` messages due under §5.5 at `cutoff`
   * (as `deleteDue`), none of `heldSoFar` (users found under a legal hold this run, §12.2)
   * — how many, and their owners.
   */
  async dueCandidates(cutoff: Date, limit: number, heldSoFar: readonly string[]): Promise<{ rows: number; userIds: string[] }> {
    const rows = await this.db.query<Array<{ user_id: string; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT m.user_id FROM messages m LEFT JOIN prime_status p ON p.user_id = m.user_id
          WHERE m.created_at <= $1
            AND (p.user_id IS NULL OR (NOT p.active AND COALESCE(p.expires_at, p.changed_at) <= $1))
            AND m.user_id <> ALL($3::uuid[])
          ORDER BY m.created_at LIMIT $2) c
        GROUP BY user_id`,
      [cutoff, limit, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.map((row) => row.user_id) };
  }

  /**
   * Deletes up to `limit` messages due under §5.5 at `cutoff` (= now − CHAT_RETENTION_DAYS):
   * written at or before the cutoff, and their owner has no Prime that is active or ended
   * after the cutoff — domain/chat-retention.ts `isMessageDue`, in SQL. `only` narrows it to
   * one conversation and to messages written before a time (ChatHistoryExpired); otherwise
   * (the sweep) to `ofUsers`, the owners retention just said are under no legal hold
   * (§12.2). Rows a sender holds are skipped and found by the next pass. Returns the owners
   * of what went. `only.assistantId` absent: every conversation of the user.
   */
  async deleteDue(
    cutoff: Date,
    limit: number,
    scope: { only: { userId: string; assistantId?: string | undefined; before: Date } } | { ofUsers: readonly string[] },
  ): Promise<Array<{ userId: string; assistantId: string }>> {
    const only = 'only' in scope ? scope.only : undefined;
    const narrowing = only ? 'AND m.user_id = $3 AND m.created_at < $5 AND ($4::text IS NULL OR m.assistant_id = $4)' : 'AND m.user_id = ANY($3::uuid[])';
    // pg answers a DELETE with [rows, affectedCount], RETURNING or not.
    const [rows] = await this.db.query<[Array<{ user_id: string; assistant_id: string }>, number]>(
      `DELETE FROM messages WHERE id IN (
         SELECT m.id FROM messages m LEFT JOIN prime_status p ON p.user_id = m.user_id
          WHERE m.created_at <= $1
            AND (p.user_id IS NULL OR (NOT p.active AND COALESCE(p.expires_at, p.changed_at) <= $1))
            ${narrowing}
          ORDER BY m.created_at LIMIT $2 FOR UPDATE OF m SKIP LOCKED)
       RETURNING user_id, assistant_id`,
      only ? [cutoff, limit, only.userId, only.assistantId ?? null, only.before] : [cutoff, limit, 'ofUsers' in scope ? scope.ofUsers : []],
    );
    return rows.map((row) => ({ userId: row.user_id, assistantId: row.assistant_id }));
  }
}

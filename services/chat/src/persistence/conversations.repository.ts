import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/**
 * The conversation rows: one per (user, assistant), carrying nothing but the pair. Their
 * purpose is the row lock that serialises every insert into one conversation.
 */
@Injectable()
export class ConversationsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Locks the conversation until the transaction ends — creating its row if there is none —
   * and takes the time of its next message: `now`, or 1 ms after the last one if the clock
   * has not moved past it, so the conversation's timestamps are strictly increasing and
   * "the newest 100" is always well defined. One statement: an upsert locks the row it
   * updates, and a row deleted while this waited for it (a clear, an erasure) makes
   * PostgreSQL insert a fresh one instead — a new row can only exist once the old one is
   * gone, so there is still one writer per conversation.
   */
  async lockForNextMessage(userId: string, assistantId: string, now: Date): Promise<Date> {
    const [row] = await this.db
      .transactionManager('locking a conversation')
      .query<Array<{ last_message_at: Date }>>(
        `INSERT INTO conversations (user_id, assistant_id, last_message_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, assistant_id) DO UPDATE SET last_message_at = GREATEST(conversations.last_message_at + interval '1 millisecond', EXCLUDED.last_message_at)
         RETURNING last_message_at`,
        [userId, assistantId, now],
      );
    return row!.last_message_at;
  }

  async delete(userId: string, assistantId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM conversations WHERE user_id = $1 AND assistant_id = $2', [userId, assistantId]);
    return count;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM conversations WHERE user_id = $1', [userId]);
    return count;
  }

  /**
   * The pair alone says the user talked to an assistant: it goes when the last message does.
   * Skips rows a sender holds, and rows written to since `idleBefore`: the NOT EXISTS below
   * reads the statement's snapshot, but a row a sender updated after it is re-checked on its
   * newest version once locked, so its fresh `last_message_at` keeps it. Up to `limit`
   * rows, only of `ofUsers` (owners retention just said are under no legal hold, §12.2).
   */
  async deleteEmpty(idleBefore: Date, limit: number, ofUsers: readonly string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `DELETE FROM conversations WHERE (user_id, assistant_id) IN (
         SELECT c.user_id, c.assistant_id FROM conversations c
          WHERE c.last_message_at < $1 AND c.user_id = ANY($2::uuid[])
            AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.user_id = c.user_id AND m.assistant_id = c.assistant_id)
          LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [idleBefore, ofUsers, limit],
    );
    return count;
  }

  /** A sweep's next candidates for `deleteEmpty`, unlocked: up to `limit` empty idle conversations, none of `heldSoFar` — how many, and their owners. */
  async emptyCandidates(idleBefore: Date, limit: number, heldSoFar: readonly string[]): Promise<{ rows: number; userIds: string[] }> {
    const rows = await this.db.query<Array<{ user_id: string; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT c.user_id FROM conversations c
          WHERE c.last_message_at < $1 AND c.user_id <> ALL($3::uuid[])
            AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.user_id = c.user_id AND m.assistant_id = c.assistant_id)
          LIMIT $2) e
        GROUP BY user_id`,
      [idleBefore, limit, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.map((row) => row.user_id) };
  }
}

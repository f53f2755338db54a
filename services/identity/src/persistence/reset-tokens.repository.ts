import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

@Injectable()
export class ResetTokensRepository {
  constructor(private readonly db: Database) {}

  async insert(token: { hash: Buffer; userId: string; now: Date; expiresAt: Date }): Promise<void> {
    await this.db.query('INSERT INTO password_reset_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [token.hash, token.userId, token.now, token.expiresAt]);
  }

  /** The owner of a live (unused, unexpired) token, without using it up. */
  async findLive(hash: Buffer, now: Date): Promise<string | undefined> {
    const [row] = await this.db.query<Array<{ user_id: string }>>('SELECT user_id FROM password_reset_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2', [hash, now]);
    return row?.user_id;
  }

  /** Marks the token used if it is live, in one statement, so it can be used only once. */
  async consume(hash: Buffer, now: Date): Promise<string | undefined> {
    const [rows] = await this.db.query<[Array<{ user_id: string }>, number]>(
      'UPDATE password_reset_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id',
      [hash, now],
    );
    return rows[0]?.user_id;
  }

  /** Every outstanding link of this user dies: after a reset, and when the email (where links go) changes. */
  async invalidateAll(userId: string, now: Date): Promise<void> {
    await this.db.query('UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL', [userId, now]);
  }

  /** Every reset link of the user goes (an erasure asked for: the account cannot be recovered any more). */
  async deleteAllForUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM password_reset_tokens WHERE user_id = $1', [userId]);
    return count;
  }

  async countForUser(userId: string): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM password_reset_tokens WHERE user_id = $1', [userId]);
    return row?.n ?? 0;
  }
}

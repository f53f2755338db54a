import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

@Injectable()
export class ResetTokensRepository {
  async insert(manager: EntityManager, token: { hash: Buffer; userId: string; now: Date; expiresAt: Date }): Promise<void> {
    await manager.query('INSERT INTO password_reset_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [token.hash, token.userId, token.now, token.expiresAt]);
  }

  /** Marks the token used if it is live, in one statement, so it can be used only once. */
  async consume(manager: EntityManager, hash: Buffer, now: Date): Promise<string | undefined> {
    const [rows] = await manager.query<[Array<{ user_id: string }>, number]>(
      'UPDATE password_reset_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id',
      [hash, now],
    );
    return rows[0]?.user_id;
  }

  /** Any other outstanding link for this user dies with a successful reset. */
  async invalidateAll(manager: EntityManager, userId: string, now: Date): Promise<void> {
    await manager.query('UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL', [userId, now]);
  }

  async countForUser(manager: EntityManager, userId: string): Promise<number> {
    const [row] = await manager.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM password_reset_tokens WHERE user_id = $1', [userId]);
    return row?.n ?? 0;
  }
}

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface RefreshTokenRow {
  session_id: string;
  user_id: string;
  expires_at: Date;
  rotated_at: Date | null;
  session_revoked_at: Date | null;
}

/** Sessions (refresh-token families) and their refresh tokens, stored as SHA-256 hashes. */
@Injectable()
export class SessionsRepository {
  async createSession(manager: EntityManager, session: { id: string; userId: string; now: Date }): Promise<void> {
    await manager.query('INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)', [session.id, session.userId, session.now]);
  }

  async addRefreshToken(manager: EntityManager, token: { hash: Buffer; sessionId: string; now: Date; expiresAt: Date }): Promise<void> {
    await manager.query('INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)', [token.hash, token.sessionId, token.now, token.expiresAt]);
  }

  /** Locks the token row so two concurrent refreshes with the same token cannot both rotate it. */
  async findRefreshToken(manager: EntityManager, hash: Buffer): Promise<RefreshTokenRow | undefined> {
    const [row] = await manager.query<RefreshTokenRow[]>(
      `SELECT t.session_id, s.user_id, t.expires_at, t.rotated_at, s.revoked_at AS session_revoked_at
       FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1 FOR UPDATE OF t`,
      [hash],
    );
    return row;
  }

  async markRotated(manager: EntityManager, hash: Buffer, now: Date): Promise<void> {
    await manager.query('UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1', [hash, now]);
  }

  async revokeSession(manager: EntityManager, sessionId: string, reason: string, now: Date): Promise<void> {
    await manager.query('UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL', [sessionId, now, reason]);
  }

  /** Revokes every live session of the user; returns their ids for the gateway's revocation list. */
  async revokeAllSessions(manager: EntityManager, userId: string, reason: string, now: Date): Promise<string[]> {
    const [rows] = await manager.query<[Array<{ id: string }>, number]>(
      'UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id',
      [userId, now, reason],
    );
    return rows.map((row) => row.id);
  }

  async countForUser(manager: EntityManager, userId: string): Promise<{ sessions: number; refreshTokens: number }> {
    const [row] = await manager.query<Array<{ sessions: number; refresh_tokens: number }>>(
      `SELECT (SELECT count(*)::int FROM sessions WHERE user_id = $1) AS sessions,
              (SELECT count(*)::int FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = $1) AS refresh_tokens`,
      [userId],
    );
    return { sessions: row?.sessions ?? 0, refreshTokens: row?.refresh_tokens ?? 0 };
  }
}

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/** A refresh token with what deciding on it needs: its session, owner, expiry and state. */
export interface RefreshToken {
  sessionId: string;
  userId: string;
  expiresAt: Date;
  rotatedAt: Date | null;
  sessionRevokedAt: Date | null;
}

interface RefreshTokenRow {
  session_id: string;
  user_id: string;
  expires_at: Date;
  rotated_at: Date | null;
  session_revoked_at: Date | null;
}

export interface ExportedSession {
  id: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
  userAgent: string | null;
}

/** Sessions (refresh-token families) and their refresh tokens, stored as SHA-256 hashes. */
@Injectable()
export class SessionsRepository {
  constructor(private readonly db: Database) {}

  async createSession(session: { id: string; userId: string; now: Date; userAgent?: string | undefined }): Promise<void> {
    await this.db.query('INSERT INTO sessions (id, user_id, created_at, user_agent) VALUES ($1, $2, $3, $4)', [session.id, session.userId, session.now, session.userAgent ?? null]);
  }

  async addRefreshToken(token: { hash: Buffer; sessionId: string; now: Date; expiresAt: Date }): Promise<void> {
    await this.db.query('INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)', [token.hash, token.sessionId, token.now, token.expiresAt]);
  }

  /** Locks the token row (inside a transaction) so two concurrent refreshes with the same token cannot both rotate it. */
  async findRefreshToken(hash: Buffer): Promise<RefreshToken | undefined> {
    const [row] = await this.db.query<RefreshTokenRow[]>(
      `SELECT t.session_id, s.user_id, t.expires_at, t.rotated_at, s.revoked_at AS session_revoked_at
       FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1 FOR UPDATE OF t`,
      [hash],
    );
    return row && { sessionId: row.session_id, userId: row.user_id, expiresAt: row.expires_at, rotatedAt: row.rotated_at, sessionRevokedAt: row.session_revoked_at };
  }

  async markRotated(hash: Buffer, now: Date): Promise<void> {
    await this.db.query('UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1', [hash, now]);
  }

  async revokeSession(sessionId: string, reason: string, now: Date): Promise<void> {
    await this.db.query('UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL', [sessionId, now, reason]);
  }

  /** Revokes every live session of the user (but `except`); returns their ids for the gateway's revocation list. */
  async revokeAllSessions(userId: string, reason: string, now: Date, options: { except?: string | undefined } = {}): Promise<string[]> {
    const [rows] = await this.db.query<[Array<{ id: string }>, number]>(
      'UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $4 RETURNING id',
      [userId, now, reason, options.except ?? null],
    );
    return rows.map((row) => row.id);
  }

  /** Ends every session of the user for good (an erasure asked for): the rows go, their refresh tokens by cascade. */
  async deleteAllForUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM sessions WHERE user_id = $1', [userId]);
    return count;
  }

  /**
   * The user's sessions for the export (R7.1), in id order after `afterId`: when each began,
   * was last used (its newest refresh) and ended, and the device — never a token hash.
   */
  async listForExport(userId: string, afterId: string | null, limit: number): Promise<ExportedSession[]> {
    const rows = await this.db.query<Array<{ id: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null; revoked_reason: string | null; user_agent: string | null }>>(
      `SELECT s.id, s.created_at, (SELECT max(t.issued_at) FROM refresh_tokens t WHERE t.session_id = s.id) AS last_used_at, s.revoked_at, s.revoked_reason, s.user_agent
       FROM sessions s WHERE s.user_id = $1 AND ($2::uuid IS NULL OR s.id > $2::uuid) ORDER BY s.id LIMIT $3`,
      [userId, afterId, limit],
    );
    return rows.map((row) => ({ id: row.id, createdAt: row.created_at, lastUsedAt: row.last_used_at, revokedAt: row.revoked_at, revokedReason: row.revoked_reason, userAgent: row.user_agent }));
  }

  async countForUser(userId: string): Promise<{ sessions: number; refreshTokens: number }> {
    const [row] = await this.db.query<Array<{ sessions: number; refresh_tokens: number }>>(
      `SELECT (SELECT count(*)::int FROM sessions WHERE user_id = $1) AS sessions,
              (SELECT count(*)::int FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = $1) AS refresh_tokens`,
      [userId],
    );
    return { sessions: row?.sessions ?? 0, refreshTokens: row?.refresh_tokens ?? 0 };
  }
}

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

export interface ClaimedExport {
  id: string;
  userId: string;
  requestId: string;
  /** This attempt's number, from 1. */
  attempts: number;
}

export interface ReadyExport {
  id: string;
  userId: string;
  requestId: string;
  tokenHash: Buffer;
  objectKey: string;
  bytes: number;
  wrappedKey: Buffer;
  sealedToken: Buffer;
  iv: Buffer;
  tag: Buffer;
  readyAt: Date;
  expiresAt: Date;
}

interface ReadyRow {
  id: string;
  user_id: string;
  request_id: string;
  token_hash: Buffer;
  object_key: string;
  bytes: string;
  wrapped_key: Buffer;
  sealed_token: Buffer;
  iv: Buffer;
  tag: Buffer;
  ready_at: Date;
  expires_at: Date;
}

/**
 * The export archives (R7.1). A row is made with its request (`ready_at` null); a build
 * claims it by moving `next_attempt_at` forward (a lease while it runs, a back-off after a
 * failure), so any instance's sweeper picks up a build whose instance died or failed; a
 * finished build fills in the object, its sealed key and link token, and `expires_at`.
 */
@Injectable()
export class ExportsRepository {
  constructor(private readonly db: Database) {}

  async insertPending(row: { id: string; userId: string; requestId: string; createdAt: Date }): Promise<void> {
    await this.db.query('INSERT INTO exports (id, user_id, request_id, created_at) VALUES ($1, $2, $3, $4)', [row.id, row.userId, row.requestId, row.createdAt]);
  }

  /**
   * Claims one build that is due (never claimed, its lease or back-off over) — `id` to
   * claim that one only — counting the attempt and leasing it until `leaseUntil`. Two
   * instances never claim the same one (SKIP LOCKED, then the lease).
   */
  async claim(now: Date, leaseUntil: Date, id?: string): Promise<ClaimedExport | undefined> {
    const [rows] = await this.db.query<[Array<{ id: string; user_id: string; request_id: string; attempts: number }>, number]>(
      `UPDATE exports SET attempts = attempts + 1, next_attempt_at = $2
        WHERE id = (SELECT id FROM exports
                     WHERE ready_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $1) AND ($3::uuid IS NULL OR id = $3)
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id, user_id, request_id, attempts`,
      [now, leaseUntil, id ?? null],
    );
    const row = rows[0];
    return row && { id: row.id, userId: row.user_id, requestId: row.request_id, attempts: row.attempts };
  }

  /**
   * A failed attempt waits until `nextAttemptAt` — only while it is still the latest
   * attempt: an attempt that outlived its lease must not cut short the lease of the one
   * that took over.
   */
  async postpone(id: string, attempt: number, nextAttemptAt: Date): Promise<void> {
    await this.db.query('UPDATE exports SET next_attempt_at = $3 WHERE id = $1 AND attempts = $2 AND ready_at IS NULL', [id, attempt, nextAttemptAt]);
  }

  /**
   * The finished archive of attempt `attempt`; false when the row is gone (the user was
   * erased meanwhile), already ready, or claimed again by a later attempt (this one outlived
   * its lease) — see `stillPending` to tell these apart.
   */
  async markReady(
    id: string,
    attempt: number,
    archive: { objectKey: string; bytes: number; wrappedKey: Buffer; iv: Buffer; tag: Buffer; tokenHash: Buffer; sealedToken: Buffer; readyAt: Date; expiresAt: Date },
  ): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `UPDATE exports SET object_key = $3, bytes = $4, wrapped_key = $5, iv = $6, tag = $7, token_hash = $8, sealed_token = $9, ready_at = $10, expires_at = $11, next_attempt_at = NULL
        WHERE id = $1 AND attempts = $2 AND ready_at IS NULL`,
      [id, attempt, archive.objectKey, archive.bytes, archive.wrappedKey, archive.iv, archive.tag, archive.tokenHash, archive.sealedToken, archive.readyAt, archive.expiresAt],
    );
    return count === 1;
  }

  /**
   * The access/export request of the user that a new one is answered with (one build per
   * user at a time and at most one per `minIntervalMs`): the newest completed one whose
   * archive still lives, or that completed less than `minIntervalMs` ago.
   */
  async recentCompletedRequestOf(userId: string, now: Date, minIntervalMs: number): Promise<string | undefined> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `SELECT r.id FROM privacy_requests r LEFT JOIN exports e ON e.id = r.export_id
        WHERE r.user_id = $1 AND r.type IN ('access', 'export') AND r.status = 'completed'
          AND ((e.ready_at IS NOT NULL AND e.expires_at > $2) OR r.completed_at > $3)
        ORDER BY r.completed_at DESC, r.id DESC LIMIT 1`,
      [userId, now, new Date(now.getTime() - minIntervalMs)],
    );
    return rows[0]?.id;
  }

  /** Whether the row still exists (a lost markReady: superseded by another attempt, rather than erased). */
  async exists(id: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>('SELECT 1 FROM exports WHERE id = $1', [id]);
    return rows.length > 0;
  }

  async findReady(id: string): Promise<ReadyExport | undefined> {
    const rows = await this.db.query<ReadyRow[]>(
      'SELECT id, user_id, request_id, token_hash, object_key, bytes, wrapped_key, sealed_token, iv, tag, ready_at, expires_at FROM exports WHERE id = $1 AND ready_at IS NOT NULL',
      [id],
    );
    const row = rows[0];
    return (
      row && {
        id: row.id,
        userId: row.user_id,
        requestId: row.request_id,
        tokenHash: row.token_hash,
        objectKey: row.object_key,
        bytes: Number(row.bytes),
        wrappedKey: row.wrapped_key,
        sealedToken: row.sealed_token,
        iv: row.iv,
        tag: row.tag,
        readyAt: row.ready_at,
        expiresAt: row.expires_at,
      }
    );
  }

  /** Whether a privacy request ever named this export (a link that was valid once: 410 rather than 404). */
  async existedOnce(id: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>('SELECT 1 FROM privacy_requests WHERE export_id = $1 LIMIT 1', [id]);
    return rows.length > 0;
  }

  /**
   * Deletes the row (a build given up); returns the object key it named, if any. With
   * `attempt`, only while that attempt is the latest and the archive not ready (a build
   * given up after outliving its lease must not delete the build that took over).
   */
  async delete(id: string, attempt?: number): Promise<{ objectKey: string | null } | undefined> {
    const rows = await this.db.query<[Array<{ object_key: string | null }>, number]>(
      'DELETE FROM exports WHERE id = $1 AND ($2::int IS NULL OR (attempts = $2 AND ready_at IS NULL)) RETURNING object_key',
      [id, attempt ?? null],
    );
    const row = rows[0][0];
    return row && { objectKey: row.object_key };
  }

  /** Up to `limit` archives whose link has expired, locked (skipping those another instance holds) for deletion in this transaction. */
  async lockExpired(now: Date, limit: number): Promise<Array<{ id: string; userId: string; objectKey: string }>> {
    const rows = await this.db.query<Array<{ id: string; user_id: string; object_key: string }>>(
      'SELECT id, user_id, object_key FROM exports WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED',
      [now, limit],
    );
    return rows.map((row) => ({ id: row.id, userId: row.user_id, objectKey: row.object_key }));
  }

  async deleteMany(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM exports WHERE id = ANY($1::uuid[])', [ids]);
    return count;
  }
}

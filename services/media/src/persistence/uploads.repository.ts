import { Injectable } from '@nestjs/common';
import type { MediaRpc } from '@homiwork/contracts';
import { Database } from '@homiwork/persistence';

/** The facts media keeps about a stored (transformed) file; never its content or original name. */
export interface Upload {
  id: string;
  userId: string;
  kind: MediaRpc.Upload['kind'];
  mimeType: string;
  bytes: number;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  objectKey: string;
  createdAt: Date;
  expiresAt: Date;
}

interface UploadRow {
  id: string;
  user_id: string;
  kind: MediaRpc.Upload['kind'];
  mime_type: string;
  bytes: string;
  width: number | null;
  height: number | null;
  duration_ms: number | null;
  object_key: string;
  created_at: Date;
  expires_at: Date;
}

function toUpload(row: UploadRow): Upload {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    mimeType: row.mime_type,
    // bigint comes back as a string; files are at most a few hundred MB, far inside a double.
    bytes: Number(row.bytes),
    width: row.width,
    height: row.height,
    durationMs: row.duration_ms,
    objectKey: row.object_key,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** Uploads. Every method runs in the caller's transaction when there is one (Transactor). */
@Injectable()
export class UploadsRepository {
  constructor(private readonly db: Database) {}

  async insert(upload: Omit<Upload, 'width' | 'height' | 'durationMs'> & { width?: number; height?: number; durationMs?: number }): Promise<Upload> {
    const [row] = await this.db.query<UploadRow[]>(
      `INSERT INTO uploads (id, user_id, kind, mime_type, bytes, width, height, duration_ms, object_key, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [upload.id, upload.userId, upload.kind, upload.mimeType, upload.bytes, upload.width ?? null, upload.height ?? null, upload.durationMs ?? null, upload.objectKey, upload.createdAt, upload.expiresAt],
    );
    return toUpload(row!);
  }

  /** Scoped by owner: another user's id is simply not found (API.md: 404, never 403). Expired or not: for deleting it. */
  async findOwned(userId: string, id: string): Promise<Upload | undefined> {
    const [row] = await this.db.query<UploadRow[]>('SELECT * FROM uploads WHERE id = $1 AND user_id = $2', [id, userId]);
    return row && toUpload(row);
  }

  /**
   * For showing: an upload past its 7 days is gone for its owner at that moment (§5.3),
   * whether or not a sweep has deleted it yet, so reads filter on `expires_at` by `now`.
   */
  async findOwnedLive(userId: string, id: string, now: Date): Promise<Upload | undefined> {
    const [row] = await this.db.query<UploadRow[]>('SELECT * FROM uploads WHERE id = $1 AND user_id = $2 AND expires_at > $3', [id, userId, now]);
    return row && toUpload(row);
  }

  async listOwnedLive(userId: string, now: Date): Promise<Upload[]> {
    return (await this.db.query<UploadRow[]>('SELECT * FROM uploads WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC LIMIT 500', [userId, now])).map(toUpload);
  }

  /** Locks the row until the transaction ends, so two purges of one upload do not both count it. */
  async findByIdForUpdate(id: string): Promise<Upload | undefined> {
    const [row] = await this.db.query<UploadRow[]>('SELECT * FROM uploads WHERE id = $1 FOR UPDATE', [id]);
    return row && toUpload(row);
  }

  /** The user's own uploads among `ids`, locked until the transaction ends; anyone else's are simply not found. */
  async findOwnedForUpdate(userId: string, ids: readonly string[]): Promise<Upload[]> {
    return (await this.db.query<UploadRow[]>('SELECT * FROM uploads WHERE id = ANY($1::uuid[]) AND user_id = $2 ORDER BY id FOR UPDATE', [ids, userId])).map(toUpload);
  }

  async deleteById(id: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM uploads WHERE id = $1', [id]);
    return count;
  }

  async deleteByIds(ids: string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM uploads WHERE id = ANY($1::uuid[])', [ids]);
    return count;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM uploads WHERE user_id = $1', [userId]);
    return count;
  }

  /** Uploads due at or before `now` and still stored (purge_backlog_items). */
  async countDue(now: Date): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM uploads WHERE expires_at <= $1', [now]);
    return row?.n ?? 0;
  }

  /**
   * A sweep's next candidates, unlocked: the oldest `limit` uploads due at or before
   * `dueBefore`, but `excluding` (ones a sweep already failed to remove this run) and none of
   * `heldSoFar` (users found under a legal hold this run, §12.2) — how many, and their owners.
   */
  async expiredCandidates(dueBefore: Date, limit: number, excluding: readonly string[], heldSoFar: readonly string[]): Promise<{ rows: number; userIds: string[] }> {
    const rows = await this.db.query<Array<{ user_id: string; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT user_id FROM uploads WHERE expires_at <= $1 AND NOT (id = ANY($3::uuid[])) AND user_id <> ALL($4::uuid[])
          ORDER BY expires_at LIMIT $2) c
        GROUP BY user_id`,
      [dueBefore, limit, excluding, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.map((row) => row.user_id) };
  }

  /**
   * The oldest uploads due at or before `dueBefore`, but `excluding` (ones a sweep already
   * failed to remove this run), and only of `ofUsers` (owners retention just said are under
   * no legal hold, §12.2). Locked and skipping rows another sweeper holds, so two media
   * instances share the work.
   */
  async expiredBefore(dueBefore: Date, limit: number, excluding: readonly string[], ofUsers: readonly string[]): Promise<Upload[]> {
    return (
      await this.db.query<UploadRow[]>(
        `SELECT * FROM uploads WHERE expires_at <= $1 AND NOT (id = ANY($3::uuid[])) AND user_id = ANY($4::uuid[])
          ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [dueBefore, limit, excluding, ofUsers],
      )
    ).map(toUpload);
  }
}

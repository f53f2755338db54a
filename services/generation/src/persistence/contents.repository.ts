import { Injectable } from '@nestjs/common';
import type { GenerationRpc } from '@homiwork/contracts';
import { Database } from '@homiwork/persistence';
import type { ExpiryPlan } from '../domain/content-retention.js';

/** The facts of one generated file; its bytes are in the object store under `objectKey`. */
export interface Content {
  id: string;
  userId: string;
  jobId: string;
  kind: GenerationRpc.GenerationKind;
  mimeType: string;
  bytes: number;
  objectKey: string;
  sourceUploadIds: string[];
  createdAt: Date;
  /** Null while the owner has Prime (§5.4). */
  expiresAt: Date | null;
  /** Set while it is in the trash (restorable for CONTENT_TRASH_DAYS). */
  deletedAt: Date | null;
}

interface ContentRow {
  id: string;
  user_id: string;
  job_id: string;
  kind: GenerationRpc.GenerationKind;
  mime_type: string;
  bytes: string;
  object_key: string;
  source_upload_ids: string[];
  created_at: Date;
  expires_at: Date | null;
  deleted_at: Date | null;
}

function toContent(row: ContentRow): Content {
  return {
    id: row.id,
    userId: row.user_id,
    jobId: row.job_id,
    kind: row.kind,
    mimeType: row.mime_type,
    // bigint comes back as a string; results are megabytes, far inside a double.
    bytes: Number(row.bytes),
    objectKey: row.object_key,
    sourceUploadIds: row.source_upload_ids,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    deletedAt: row.deleted_at,
  };
}

/**
 * What a user still has, by the service clock, whether or not a sweep has run: not past
 * its expiry, and not in the trash longer than the trash keeps it ($2 = now, $3 = the
 * trash cutoff, now − CONTENT_TRASH_DAYS).
 */
const EXISTS_FOR_USER = '(expires_at IS NULL OR expires_at > $2) AND (deleted_at IS NULL OR deleted_at > $3)';

/** Contents. Every method runs in the caller's transaction when there is one (Transactor). */
@Injectable()
export class ContentsRepository {
  constructor(private readonly db: Database) {}

  async insert(content: Content): Promise<void> {
    await this.db.query(
      `INSERT INTO contents (id, user_id, job_id, kind, mime_type, bytes, object_key, source_upload_ids, created_at, expires_at, deleted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[], $9, $10, $11)`,
      [content.id, content.userId, content.jobId, content.kind, content.mimeType, content.bytes, content.objectKey, content.sourceUploadIds, content.createdAt, content.expiresAt, content.deletedAt],
    );
  }

  /** One of the user's own items, live or in the trash; anyone else's, an expired one or one out of the trash's days is not found. */
  async findOwned(userId: string, id: string, now: Date, trashCutoff: Date): Promise<Content | undefined> {
    const [row] = await this.db.query<ContentRow[]>(`SELECT * FROM contents WHERE id = $1 AND user_id = $4 AND ${EXISTS_FOR_USER}`, [id, now, trashCutoff, userId]);
    return row && toContent(row);
  }

  /** The user's live items (`deleted` false) or their trash (true), newest first. */
  async listOwned(userId: string, deleted: boolean, now: Date, trashCutoff: Date): Promise<Content[]> {
    const rows = await this.db.query<ContentRow[]>(
      `SELECT * FROM contents WHERE user_id = $1 AND ${EXISTS_FOR_USER} AND (deleted_at IS NOT NULL) = $4 ORDER BY created_at DESC, id LIMIT 500`,
      [userId, now, trashCutoff, deleted],
    );
    return rows.map(toContent);
  }

  /** Moves a live item to the trash; undefined when it is not the user's live item. */
  async softDelete(userId: string, id: string, now: Date): Promise<Content | undefined> {
    const [rows] = await this.db.query<[ContentRow[], number]>(
      'UPDATE contents SET deleted_at = $2 WHERE id = $1 AND user_id = $3 AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > $2) RETURNING *',
      [id, now, userId],
    );
    const row = rows[0];
    return row && toContent(row);
  }

  /** Takes an item out of the trash within its days; undefined when it is not in the user's trash. */
  async restore(userId: string, id: string, now: Date, trashCutoff: Date): Promise<Content | undefined> {
    const [rows] = await this.db.query<[ContentRow[], number]>(
      `UPDATE contents SET deleted_at = NULL WHERE id = $1 AND user_id = $4 AND deleted_at IS NOT NULL AND ${EXISTS_FOR_USER} RETURNING *`,
      [id, now, trashCutoff, userId],
    );
    const row = rows[0];
    return row && toContent(row);
  }

  /**
   * Applies a Prime plan to every item of the user in one statement, as
   * domain/content-retention.ts's contentExpiresAt would one by one: NULL when kept,
   * else max(created_at, notBefore) + the retention days (GREATEST ignores a NULL
   * notBefore). Days are counted as 86,400 s, as addDays does, not as calendar days.
   */
  async replanExpiry(userId: string, plan: ExpiryPlan, retentionDays: number): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `UPDATE contents SET expires_at = CASE WHEN $2::boolean THEN NULL ELSE GREATEST(created_at, $3::timestamptz) + make_interval(secs => $4::int * 86400) END
        WHERE user_id = $1`,
      [userId, plan.kept, plan.kept ? null : plan.notBefore, retentionDays],
    );
    return count;
  }

  /** Locks the row until the transaction ends, so two purges of one item do not both count it. */
  async findByIdForUpdate(id: string): Promise<Content | undefined> {
    const [row] = await this.db.query<ContentRow[]>('SELECT * FROM contents WHERE id = $1 FOR UPDATE', [id]);
    return row && toContent(row);
  }

  /** Items past their expiry, or in the trash since `trashCutoff`, still stored (purge_backlog_items). */
  async countDue(now: Date, trashCutoff: Date): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM contents WHERE expires_at <= $1 OR deleted_at <= $2', [now, trashCutoff]);
    return row?.n ?? 0;
  }

  /**
   * A sweep's next candidates, unlocked: the oldest `limit` items due for removal (past
   * their expiry, or in the trash longer than it keeps them), but `excluding` (ones a sweep
   * already failed to remove this run) and none of `heldSoFar` (users found under a legal
   * hold this run, §12.2) — how many, and their owners.
   */
  async dueCandidates(now: Date, trashCutoff: Date, limit: number, excluding: readonly string[], heldSoFar: readonly string[]): Promise<{ rows: number; userIds: string[] }> {
    const rows = await this.db.query<Array<{ user_id: string; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT user_id FROM contents WHERE (expires_at <= $1 OR deleted_at <= $2) AND NOT (id = ANY($4::uuid[])) AND user_id <> ALL($5::uuid[])
          ORDER BY least(expires_at, deleted_at) LIMIT $3) c
        GROUP BY user_id`,
      [now, trashCutoff, limit, excluding, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.map((row) => row.user_id) };
  }

  /**
   * The oldest items due for removal — past their expiry, or in the trash longer than it
   * keeps them — but `excluding` (ones a sweep already failed to remove this run), and only
   * of `ofUsers` (owners retention just said are under no legal hold, §12.2). Locked,
   * skipping rows another sweeper holds, so instances share the work.
   */
  async dueForRemoval(now: Date, trashCutoff: Date, limit: number, excluding: readonly string[], ofUsers: readonly string[]): Promise<Content[]> {
    const rows = await this.db.query<ContentRow[]>(
      `SELECT * FROM contents WHERE (expires_at <= $1 OR deleted_at <= $2) AND NOT (id = ANY($4::uuid[])) AND user_id = ANY($5::uuid[])
        ORDER BY least(expires_at, deleted_at) LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [now, trashCutoff, limit, excluding, ofUsers],
    );
    return rows.map(toContent);
  }

  async deleteById(id: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM contents WHERE id = $1', [id]);
    return count;
  }

  async deleteByIds(ids: readonly string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM contents WHERE id = ANY($1::uuid[])', [ids]);
    return count;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM contents WHERE user_id = $1', [userId]);
    return count;
  }
}

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import { OPEN_STATUSES, type PrivacyRegime, type PrivacyRequestStatus, type PrivacyRequestType } from '../domain/privacy-request.js';

export interface PrivacyRequestRecord {
  id: string;
  userId: string | null;
  type: PrivacyRequestType;
  regime: PrivacyRegime;
  status: PrivacyRequestStatus;
  createdAt: Date;
  dueAt: Date;
  completedAt: Date | null;
  outcome: string | null;
  erasureId: string | null;
  exportId: string | null;
  history: Array<{ status: PrivacyRequestStatus; at: Date }>;
}

interface Row {
  id: string;
  user_id: string | null;
  type: PrivacyRequestType;
  regime: PrivacyRegime;
  status: PrivacyRequestStatus;
  created_at: Date;
  due_at: Date;
  completed_at: Date | null;
  outcome: string | null;
  erasure_id: string | null;
  export_id: string | null;
  history: Array<{ status: PrivacyRequestStatus; at: string }>;
}

const OPEN = `status IN (${OPEN_STATUSES.map((status) => `'${status}'`).join(', ')})`;

// Each request with its history, oldest change first (`seq` orders changes made in one millisecond).
const SELECT = `
  SELECT r.id, r.user_id, r.type, r.regime, r.status, r.created_at, r.due_at, r.completed_at, r.outcome, r.erasure_id, r.export_id,
         COALESCE((SELECT json_agg(json_build_object('status', h.status, 'at', h.at) ORDER BY h.at, h.seq)
                     FROM privacy_request_history h WHERE h.request_id = r.id), '[]'::json) AS history
    FROM privacy_requests r`;

function toRecord(row: Row): PrivacyRequestRecord {
  return {
    id: row.id,
    userId: row.user_id,
    type: row.type,
    regime: row.regime,
    status: row.status,
    createdAt: row.created_at,
    dueAt: row.due_at,
    completedAt: row.completed_at,
    outcome: row.outcome,
    erasureId: row.erasure_id,
    exportId: row.export_id,
    history: row.history.map((change) => ({ status: change.status, at: new Date(change.at) })),
  };
}

export interface NewPrivacyRequest {
  id: string;
  userId: string;
  type: PrivacyRequestType;
  regime: PrivacyRegime;
  status: PrivacyRequestStatus;
  createdAt: Date;
  dueAt: Date;
  completedAt: Date | null;
  outcome: string | null;
  erasureId: string | null;
  exportId: string | null;
}

/**
 * §9 requests and their status history. Every status change goes through `changeStatus`
 * (or `insertOpen`), which writes the history row in the same statement's transaction.
 * Runs in the caller's transaction when there is one.
 */
@Injectable()
export class PrivacyRequestsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Inserts the request and its first history row unless the user already has an open
   * request of this type: the unique partial index decides (`ON CONFLICT … DO NOTHING`
   * waits for a concurrent insert to commit or roll back), so two at once give one row.
   * Returns false when one was open (the caller reads it with `findOpen`).
   */
  async insertOpen(request: NewPrivacyRequest): Promise<boolean> {
    const inserted = await this.db.query<unknown[]>(
      `INSERT INTO privacy_requests (id, user_id, type, regime, status, created_at, due_at, completed_at, outcome, erasure_id, export_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (user_id, type) WHERE ${OPEN} DO NOTHING
       RETURNING 1`,
      [request.id, request.userId, request.type, request.regime, request.status, request.createdAt, request.dueAt, request.completedAt, request.outcome, request.erasureId, request.exportId],
    );
    if (inserted.length === 0) return false;
    await this.db.query('INSERT INTO privacy_request_history (request_id, status, at) VALUES ($1, $2, $3)', [request.id, request.status, request.createdAt]);
    return true;
  }

  async findOpen(userId: string, type: PrivacyRequestType): Promise<PrivacyRequestRecord | undefined> {
    const rows = await this.db.query<Row[]>(`${SELECT} WHERE r.user_id = $1 AND r.type = $2 AND r.${OPEN}`, [userId, type]);
    return rows[0] && toRecord(rows[0]);
  }

  async find(id: string): Promise<PrivacyRequestRecord | undefined> {
    const rows = await this.db.query<Row[]>(`${SELECT} WHERE r.id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  /** The request, locked for a status change (inside a transaction). */
  async findForUpdate(id: string): Promise<PrivacyRequestRecord | undefined> {
    await this.db.query('SELECT 1 FROM privacy_requests WHERE id = $1 FOR UPDATE', [id]);
    return this.find(id);
  }

  /**
   * The user's requests, newest first (`created_at`, then `id`, both descending): at most
   * `limit`, and with `before` (a request id of the user's) only those after it in that
   * order — the next page of a list whose last item was `before`.
   */
  async listOfUser(userId: string, page: { limit: number; before?: string }): Promise<PrivacyRequestRecord[]> {
    const rows = await this.db.query<Row[]>(
      `${SELECT} WHERE r.user_id = $1
         AND ($2::uuid IS NULL OR (r.created_at, r.id) < (SELECT b.created_at, b.id FROM privacy_requests b WHERE b.id = $2 AND b.user_id = $1))
       ORDER BY r.created_at DESC, r.id DESC LIMIT $3`,
      [userId, page.before ?? null, page.limit],
    );
    return rows.map(toRecord);
  }

  /**
   * The newest request of the user of this type and regime made since `since` (a recorded
   * request repeated within a minute answers the first). Call after `lockTypeOf`.
   */
  async findRecent(userId: string, type: PrivacyRequestType, regime: PrivacyRegime, since: Date): Promise<string | undefined> {
    const rows = await this.db.query<Array<{ id: string }>>(
      'SELECT id FROM privacy_requests WHERE user_id = $1 AND type = $2 AND regime = $3 AND created_at > $4 ORDER BY created_at DESC, id DESC LIMIT 1',
      [userId, type, regime, since],
    );
    return rows[0]?.id;
  }

  /** Serialises the creation of one user's requests of one type (until the transaction ends). */
  async lockTypeOf(userId: string, type: PrivacyRequestType): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('retention.requests:' || $1 || ':' || $2, 0))`, [userId, type]);
  }

  /** Operators' list, newest first; `overdueAt` narrows to requests not final and past due at that time (restrictions in force excluded). */
  async listAll(options: { overdueAt?: Date; limit: number }): Promise<PrivacyRequestRecord[]> {
    const rows = options.overdueAt
      ? await this.db.query<Row[]>(`${SELECT} WHERE r.status IN ('awaiting_verification', 'in_progress') AND r.due_at < $1 ORDER BY r.created_at DESC, r.id LIMIT $2`, [options.overdueAt, options.limit])
      : await this.db.query<Row[]>(`${SELECT} ORDER BY r.created_at DESC, r.id LIMIT $1`, [options.limit]);
    return rows.map(toRecord);
  }

  /**
   * Moves the request from one of `from` to `to` (with the fields given) and records the
   * change; false when it was not in `from` any more (someone else moved it first).
   */
  async changeStatus(
    id: string,
    from: readonly PrivacyRequestStatus[],
    to: PrivacyRequestStatus,
    at: Date,
    fields: { completedAt?: Date; outcome?: string; erasureId?: string } = {},
  ): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `UPDATE privacy_requests SET status = $3,
              completed_at = COALESCE($4, completed_at), outcome = COALESCE($5, outcome), erasure_id = COALESCE($6, erasure_id)
        WHERE id = $1 AND status = ANY($2::text[])`,
      [id, from, to, fields.completedAt ?? null, fields.outcome ?? null, fields.erasureId ?? null],
    );
    if (count === 0) return false;
    await this.db.query('INSERT INTO privacy_request_history (request_id, status, at) VALUES ($1, $2, $3)', [id, to, at]);
    return true;
  }

  /** Whether a restriction or objection of the user other than `exceptId` is in force. */
  async otherRestrictionInForce(userId: string, exceptId: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `SELECT 1 FROM privacy_requests WHERE user_id = $1 AND type IN ('restriction', 'objection') AND status = 'in_force' AND id <> $2 LIMIT 1`,
      [userId, exceptId],
    );
    return rows.length > 0;
  }

  /**
   * Serialises the restriction changes of one user (until the transaction ends), so the
   * "was another one in force?" answers of two concurrent changes cannot both be stale.
   */
  async lockRestrictionsOf(userId: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('retention.restrictions:' || $1, 0))`, [userId]);
  }

  /**
   * Erasure requests whose erasure has completed (its receipt signed) become `completed`,
   * outcome `erased`, with their history. Returns how many.
   */
  async completeErased(now: Date): Promise<number> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `WITH done AS (
         UPDATE privacy_requests r SET status = 'completed', outcome = 'erased', completed_at = $1
           FROM erasures e
          WHERE r.type = 'erasure' AND r.status = 'in_progress' AND r.erasure_id = e.id AND e.status = 'completed'
          RETURNING r.id)
       INSERT INTO privacy_request_history (request_id, status, at) SELECT id, 'completed', $1 FROM done RETURNING request_id AS id`,
      [now],
    );
    return rows.length;
  }

  /**
   * Open requests whose user has been erased (unlinked by retention's purge) end: nothing
   * is left to carry out. A restriction or objection is `lifted`, a waiting request
   * `withdrawn`, an export being built `rejected` — outcome `account_erased`; an erasure
   * request with no erasure of its own is `completed`, outcome `erased` (the account went
   * by another path). An erasure request with its erasure waits for that (completeErased).
   */
  async closeOrphaned(now: Date): Promise<number> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `WITH closed AS (
         UPDATE privacy_requests SET
           status = CASE WHEN type = 'erasure' THEN 'completed' WHEN status = 'in_force' THEN 'lifted' WHEN status = 'awaiting_verification' THEN 'withdrawn' ELSE 'rejected' END,
           outcome = CASE WHEN type = 'erasure' THEN 'erased' ELSE 'account_erased' END,
           completed_at = $1
          WHERE user_id IS NULL AND ${OPEN} AND NOT (type = 'erasure' AND erasure_id IS NOT NULL)
          RETURNING id, status)
       INSERT INTO privacy_request_history (request_id, status, at) SELECT id, status, $1 FROM closed RETURNING request_id AS id`,
      [now],
    );
    return rows.length;
  }

  /** Open requests by type and whether past due (the gauge), restrictions in force counted as on time. */
  async countOpen(now: Date): Promise<Array<{ type: PrivacyRequestType; overdue: boolean; count: number }>> {
    return this.db.query(
      `SELECT type, (status <> 'in_force' AND due_at < $1) AS overdue, count(*)::int AS count
         FROM privacy_requests WHERE ${OPEN} GROUP BY 1, 2`,
      [now],
    );
  }

  /** The user's requests for their own export slice: no user id, no internal ids besides the request's. */
  async exportOfUser(userId: string): Promise<PrivacyRequestRecord[]> {
    const rows = await this.db.query<Row[]>(`${SELECT} WHERE r.user_id = $1 ORDER BY r.created_at DESC, r.id DESC`, [userId]);
    return rows.map(toRecord);
  }
}

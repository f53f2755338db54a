import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import type { DataOwningService, ErasureRecord, ErasureStatus } from '../domain/erasure-view.js';

interface ErasureRow {
  id: string;
  user_id: string | null;
  reason: string;
  status: ErasureStatus;
  requested_at: Date;
  approved_at: Date | null;
  deadline_at: Date;
  completed_at: Date | null;
  expected_services: DataOwningService[];
  jws: string | null;
}

interface ReceiptRow {
  erasure_id: string;
  service: DataOwningService;
  purged_at: Date;
  counts: Record<string, number>;
}

const COLUMNS = 'id, user_id, reason, status, requested_at, approved_at, deadline_at, completed_at, expected_services, jws';

/** A page of a list: items strictly after `before` in the list's order (older, or as old with a smaller id). */
export interface PageCursor {
  before?: Date;
  beforeId?: string;
}

/**
 * `erasures` and `erasure_receipts`: one erasure per ErasureRequested, the services it
 * expects and the first PurgeCompleted of each. These rows are the legal record of the
 * erasure: they are never deleted, and `user_id` is set to NULL when the erasure completes.
 */
@Injectable()
export class ErasuresRepository {
  constructor(private readonly db: Database) {}

  /** Locks the erasure row until the transaction ends; undefined if there is none. */
  async findForUpdate(id: string): Promise<ErasureRecord | undefined> {
    const [row] = await this.db.transactionManager('locking an erasure').query<ErasureRow[]>(`SELECT ${COLUMNS} FROM erasures WHERE id = $1 FOR UPDATE`, [id]);
    return row && (await this.withReceipts([row]))[0];
  }

  async find(id: string): Promise<ErasureRecord | undefined> {
    const [row] = await this.db.query<ErasureRow[]>(`SELECT ${COLUMNS} FROM erasures WHERE id = $1`, [id]);
    return row && (await this.withReceipts([row]))[0];
  }

  /** The user's erasures held back by a legal hold, locked. */
  async heldOfUserForUpdate(userId: string): Promise<string[]> {
    const rows = await this.db.transactionManager('locking held erasures').query<Array<{ id: string }>>("SELECT id FROM erasures WHERE user_id = $1 AND status = 'held' ORDER BY requested_at, id FOR UPDATE", [userId]);
    return rows.map((row) => row.id);
  }

  /** A new erasure; false if one with this id exists already. */
  async insert(erasure: Omit<ErasureRecord, 'completedAt' | 'jws' | 'receipts'>): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO erasures (id, user_id, reason, status, requested_at, approved_at, deadline_at, expected_services)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING 1`,
      [erasure.id, erasure.userId, erasure.reason, erasure.status, erasure.requestedAt, erasure.approvedAt, erasure.deadlineAt, erasure.expectedServices],
    );
    return rows.length === 1;
  }

  /** The facts of ErasureRequested on a row first created from a receipt (see OpenErasure). */
  async fillRequest(id: string, facts: { userId: string; reason: string; status: ErasureStatus; requestedAt: Date; approvedAt: Date | null; deadlineAt: Date }): Promise<void> {
    await this.db.query('UPDATE erasures SET user_id = $2, reason = $3, status = $4, requested_at = $5, approved_at = $6, deadline_at = $7 WHERE id = $1', [
      id,
      facts.userId,
      facts.reason,
      facts.status,
      facts.requestedAt,
      facts.approvedAt,
      facts.deadlineAt,
    ]);
  }

  /** A held erasure goes ahead; its deadline counts again from now (it could not proceed while held). */
  async approveHeld(id: string, approvedAt: Date, deadlineAt: Date): Promise<void> {
    await this.db.query("UPDATE erasures SET status = 'in_progress', approved_at = $2, deadline_at = $3 WHERE id = $1 AND status = 'held'", [id, approvedAt, deadlineAt]);
  }

  /** The erasure is complete: the signed receipt is stored and the user id dropped. */
  async complete(id: string, completedAt: Date, jws: string): Promise<void> {
    await this.db.query("UPDATE erasures SET status = 'completed', completed_at = $2, jws = $3, user_id = NULL WHERE id = $1", [id, completedAt, jws]);
  }

  /** Records a service's receipt unless it has one already (the first one wins); returns whether it was recorded. */
  async addReceipt(erasureId: string, receipt: { service: DataOwningService; purgedAt: Date; counts: Record<string, number> }): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO erasure_receipts (erasure_id, service, purged_at, counts) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (erasure_id, service) DO NOTHING RETURNING 1`,
      [erasureId, receipt.service, receipt.purgedAt, JSON.stringify(receipt.counts)],
    );
    return rows.length === 1;
  }

  /**
   * The operators' list: newest request first (ties by id, descending), at most `limit`,
   * after the cursor; `overdueAt` narrows to those in progress past their deadline then.
   */
  async list(filter: { overdueAt?: Date } & PageCursor, limit: number): Promise<ErasureRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.overdueAt) {
      params.push(filter.overdueAt);
      where.push(`status = 'in_progress' AND deadline_at < $${params.length}`);
    }
    if (filter.before) where.push(keysetBefore('requested_at', filter, params));
    params.push(limit);
    const rows = await this.db.query<ErasureRow[]>(
      `SELECT ${COLUMNS} FROM erasures ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY requested_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return this.withReceipts(rows);
  }

  /** Open erasures by state, counted in the database so every instance reports the same. */
  async openCounts(now: Date): Promise<{ onTime: number; overdue: number; held: number }> {
    const [row] = await this.db.query<Array<{ on_time: number; overdue: number; held: number }>>(
      `SELECT count(*) FILTER (WHERE status = 'in_progress' AND deadline_at >= $1)::int AS on_time,
              count(*) FILTER (WHERE status = 'in_progress' AND deadline_at < $1)::int AS overdue,
              count(*) FILTER (WHERE status = 'held')::int AS held
         FROM erasures WHERE status <> 'completed'`,
      [now],
    );
    return { onTime: row?.on_time ?? 0, overdue: row?.overdue ?? 0, held: row?.held ?? 0 };
  }

  /** Ids of the erasures in progress past their deadline. */
  async overdueIds(now: Date): Promise<string[]> {
    const rows = await this.db.query<Array<{ id: string }>>("SELECT id FROM erasures WHERE status = 'in_progress' AND deadline_at < $1 ORDER BY deadline_at LIMIT 10000", [now]);
    return rows.map((row) => row.id);
  }

  private async withReceipts(rows: ErasureRow[]): Promise<ErasureRecord[]> {
    if (rows.length === 0) return [];
    const receipts = await this.db.query<ReceiptRow[]>('SELECT erasure_id, service, purged_at, counts FROM erasure_receipts WHERE erasure_id = ANY($1::uuid[])', [rows.map((row) => row.id)]);
    const byErasure = new Map<string, ReceiptRow[]>();
    for (const receipt of receipts) byErasure.set(receipt.erasure_id, [...(byErasure.get(receipt.erasure_id) ?? []), receipt]);
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      reason: row.reason,
      status: row.status,
      requestedAt: row.requested_at,
      approvedAt: row.approved_at,
      deadlineAt: row.deadline_at,
      completedAt: row.completed_at,
      expectedServices: row.expected_services,
      jws: row.jws,
      receipts: (byErasure.get(row.id) ?? []).map((receipt) => ({ service: receipt.service, purgedAt: receipt.purged_at, counts: receipt.counts })),
    }));
  }
}

/** `(column, id) < (before, beforeId)`, or `column < before` without an id; pushes its parameters. */
export function keysetBefore(column: string, cursor: PageCursor, params: unknown[]): string {
  params.push(cursor.before);
  const at = `$${params.length}`;
  if (!cursor.beforeId) return `${column} < ${at}`;
  params.push(cursor.beforeId);
  return `(${column}, id) < (${at}, $${params.length}::uuid)`;
}

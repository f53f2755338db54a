import { Injectable } from '@nestjs/common';
import type { BillingRpc } from '@homiwork/contracts';
import { Database } from '@homiwork/persistence';

export type ReservationState = 'held' | 'committed' | 'refunded' | 'void';

export interface ReservationRecord {
  id: string;
  userId: string;
  purpose: BillingRpc.EnergyPurpose;
  amount: number;
  state: ReservationState;
  createdAt: Date;
  settledAt: Date | null;
}

const COLUMNS = 'id, user_id AS "userId", purpose, amount, state, created_at AS "createdAt", settled_at AS "settledAt"';

/**
 * One reservation per generation job (its id is the job's): `held` until GenerationFinished
 * commits or refunds it; `void` when the job failed before its reservation arrived, so a
 * late reservation is refused instead of charging for a job that already ended.
 */
@Injectable()
export class ReservationsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Inserts the reservations of one user as `held`; returns the ids inserted. An id that
   * exists already (a retry, a job that ended first, or the same id twice in the list) is
   * left as it is. Waits for a concurrent insert of the same id to commit or roll back.
   */
  async insertHeld(userId: string, reservations: ReadonlyArray<{ id: string; purpose: BillingRpc.EnergyPurpose; amount: number }>, now: Date): Promise<Set<string>> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `INSERT INTO reservations (id, user_id, purpose, amount, state, created_at)
       SELECT id, $1, purpose, amount, 'held', $5 FROM unnest($2::uuid[], $3::text[], $4::int[]) AS r (id, purpose, amount)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [userId, reservations.map((r) => r.id), reservations.map((r) => r.purpose), reservations.map((r) => r.amount), now],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Removes reservations inserted in this transaction that the balance could not pay for. */
  async deleteHeld(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.db.query("DELETE FROM reservations WHERE id = ANY($1::uuid[]) AND state = 'held'", [ids]);
  }

  async findMany(ids: readonly string[]): Promise<ReservationRecord[]> {
    return this.db.query<ReservationRecord[]>(`SELECT ${COLUMNS} FROM reservations WHERE id = ANY($1::uuid[])`, [ids]);
  }

  async insertVoid(reservation: { id: string; userId: string; purpose: BillingRpc.EnergyPurpose; now: Date }): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO reservations (id, user_id, purpose, amount, state, created_at, settled_at) VALUES ($1, $2, $3, 0, 'void', $4, $4)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [reservation.id, reservation.userId, reservation.purpose, reservation.now],
    );
    return rows.length === 1;
  }

  async find(id: string): Promise<ReservationRecord | undefined> {
    const [row] = await this.db.query<ReservationRecord[]>(`SELECT ${COLUMNS} FROM reservations WHERE id = $1`, [id]);
    return row;
  }

  /**
   * held → committed; false when it was not held (settled already, void, or unknown). Only
   * for the purpose it was reserved for: the service that announces an outcome settles its
   * own kind of reservation, never another's (GenerationFinishedV1.announcedBy).
   */
  async markCommitted(id: string, userId: string, purpose: string, now: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      "UPDATE reservations SET state = 'committed', settled_at = $4 WHERE id = $1 AND user_id = $2 AND purpose = $3 AND state = 'held'",
      [id, userId, purpose, now],
    );
    return count === 1;
  }

  /** held → refunded; the amount to give back, or undefined when it was not held (for that purpose). */
  async markRefunded(id: string, userId: string, purpose: string, now: Date): Promise<{ amount: number } | undefined> {
    const [rows] = await this.db.query<[Array<{ amount: number }>, number]>(
      "UPDATE reservations SET state = 'refunded', settled_at = $4 WHERE id = $1 AND user_id = $2 AND purpose = $3 AND state = 'held' RETURNING amount",
      [id, userId, purpose, now],
    );
    return rows[0];
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM reservations WHERE user_id = $1', [userId]);
    return count;
  }
}

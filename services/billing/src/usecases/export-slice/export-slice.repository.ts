import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import { TIME_ID_KEY_SQL, timeIdAfter } from '@homiwork/service-kit';

export interface ExportedBalance {
  energy: number;
  updatedAt: Date;
}

export interface ExportedLedgerEntry {
  key: string;
  delta: number;
  reason: string;
  reservationId: string | null;
  orderId: string | null;
  createdAt: Date;
}

export interface ExportedReservation {
  key: string;
  id: string;
  purpose: string;
  amount: number;
  state: string;
  createdAt: Date;
  settledAt: Date | null;
}

/** An order as the export shows it: what was bought, for how much, what became of it, and when — no card data (none is kept), no checkout link. */
export interface ExportedOrder {
  key: string;
  id: string;
  productId: string;
  kind: string;
  energy: number | null;
  primeDays: number | null;
  amount: number;
  currency: string;
  status: string;
  processor: string;
  processorTransactionId: string | null;
  createdAt: Date;
  paidAt: Date | null;
  closedAt: Date | null;
  retainUntil: Date;
}

export interface ExportedPrimeStatus {
  expiresAt: Date;
  updatedAt: Date;
}

const AFTER = '($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))';

/** The export's reads of billing's tables: one user's rows only, in page-key order (oldest first). */
@Injectable()
export class ExportSliceRepository {
  constructor(private readonly db: Database) {}

  async balance(userId: string): Promise<ExportedBalance | undefined> {
    const [row] = await this.db.query<ExportedBalance[]>('SELECT energy, updated_at AS "updatedAt" FROM balances WHERE user_id = $1', [userId]);
    return row;
  }

  /** Keyed by the entry's identity column (its order of writing). */
  async ledgerAfter(userId: string, after: string | null, limit: number): Promise<ExportedLedgerEntry[]> {
    return this.db.query<ExportedLedgerEntry[]>(
      `SELECT id::text AS key, delta, reason, reservation_id AS "reservationId", order_id AS "orderId", created_at AS "createdAt"
         FROM ledger_entries WHERE user_id = $1 AND ($2::bigint IS NULL OR id > $2::bigint) ORDER BY id LIMIT $3`,
      [userId, after, limit],
    );
  }

  async reservationsAfter(userId: string, after: string | null, limit: number): Promise<ExportedReservation[]> {
    const [createdAt, id] = timeIdAfter(after);
    return this.db.query<ExportedReservation[]>(
      `SELECT ${TIME_ID_KEY_SQL} AS key, id, purpose, amount, state, created_at AS "createdAt", settled_at AS "settledAt"
         FROM reservations WHERE user_id = $1 AND ${AFTER} ORDER BY created_at, id LIMIT $4`,
      [userId, createdAt, id, limit],
    );
  }

  /** The orders still linked to the user (an erased user's kept records are no longer theirs: user_id is cleared). */
  async ordersAfter(userId: string, after: string | null, limit: number): Promise<ExportedOrder[]> {
    const [createdAt, id] = timeIdAfter(after);
    const rows = await this.db.query<ExportedOrder[]>(
      `SELECT ${TIME_ID_KEY_SQL} AS key, id, product_id AS "productId", kind, energy, prime_days AS "primeDays", amount, currency, status, processor,
              processor_transaction_id AS "processorTransactionId", created_at AS "createdAt", paid_at AS "paidAt", closed_at AS "closedAt", retain_until AS "retainUntil"
         FROM orders WHERE user_id = $1 AND ${AFTER} ORDER BY created_at, id LIMIT $4`,
      [userId, createdAt, id, limit],
    );
    return rows.map((row) => ({ ...row, currency: row.currency.trim() }));
  }

  async primeStatus(userId: string): Promise<ExportedPrimeStatus | undefined> {
    const [row] = await this.db.query<ExportedPrimeStatus[]>('SELECT expires_at AS "expiresAt", updated_at AS "updatedAt" FROM prime_status WHERE user_id = $1', [userId]);
    return row;
  }
}

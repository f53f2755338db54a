import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

export type OrderStatus = 'pending' | 'paid' | 'cancelled' | 'failed' | 'closed';

export interface OrderRecord {
  id: string;
  /** Null once the user was erased: the record stays for accounting, without the link. */
  userId: string | null;
  unlinkedRef: string | null;
  productId: string;
  kind: 'energy' | 'prime';
  /** What the order buys, fixed when it was placed (the catalogue may change meanwhile). */
  energy: number | null;
  primeDays: number | null;
  amount: number;
  currency: string;
  status: OrderStatus;
  processor: string;
  processorTransactionId: string | null;
  createdAt: Date;
  paidAt: Date | null;
  closedAt: Date | null;
  /** §5.7, for a paid order; one that ended unpaid goes UNPAID_ORDER_RETENTION_DAYS after `closedAt`. */
  retainUntil: Date;
  /** The processor's checkout while the order is pending (answered again to a repeated order); null once it ended. */
  checkoutUrl: string | null;
}

const COLUMNS = `id, user_id AS "userId", unlinked_ref AS "unlinkedRef", product_id AS "productId", kind, energy, prime_days AS "primeDays",
  amount, currency, status, processor, processor_transaction_id AS "processorTransactionId", created_at AS "createdAt",
  paid_at AS "paidAt", closed_at AS "closedAt", retain_until AS "retainUntil", checkout_url AS "checkoutUrl"`;

// Per (schema, user), as the tombstone lock: advisory locks are database-wide.
const ORDERS_LOCK_KEY = "hashtextextended(current_schema() || ':orders:' || $1::text, 0)";

/** Orders: the transaction records of §5.7 (amount, currency, status, processor transaction id, times; never card data). */
@Injectable()
export class OrdersRepository {
  constructor(private readonly db: Database) {}

  async insert(order: Omit<OrderRecord, 'unlinkedRef' | 'processorTransactionId' | 'paidAt' | 'closedAt' | 'checkoutUrl'>): Promise<void> {
    await this.db.query(
      `INSERT INTO orders (id, user_id, product_id, kind, energy, prime_days, amount, currency, status, processor, created_at, retain_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [order.id, order.userId, order.productId, order.kind, order.energy, order.primeDays, order.amount, order.currency, order.status, order.processor, order.createdAt, order.retainUntil],
    );
  }

  async find(id: string): Promise<OrderRecord | undefined> {
    const [row] = await this.db.query<OrderRecord[]>(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id]);
    return row && { ...row, currency: row.currency.trim() };
  }

  /** The order, locked until the transaction ends: webhooks for one order apply one at a time. */
  async findForUpdate(id: string): Promise<OrderRecord | undefined> {
    const [row] = await this.db.query<OrderRecord[]>(`SELECT ${COLUMNS} FROM orders WHERE id = $1 FOR UPDATE`, [id]);
    return row && { ...row, currency: row.currency.trim() };
  }

  /**
   * Takes the user's order lock until the transaction ends: deciding whether an order is
   * answered again, refused by the limit or placed is then one at a time per user.
   */
  async lockOrdersOf(userId: string): Promise<void> {
    await this.db.transactionManager('deciding on a user’s orders').query(`SELECT pg_advisory_xact_lock(${ORDERS_LOCK_KEY})`, [userId]);
  }

  /** The user's pending order of this product placed after `since` (there is at most one pending per product). */
  async findOpen(userId: string, productId: string, since: Date): Promise<OrderRecord | undefined> {
    const [row] = await this.db.query<OrderRecord[]>(`SELECT ${COLUMNS} FROM orders WHERE user_id = $1 AND product_id = $2 AND status = 'pending' AND created_at > $3`, [userId, productId, since]);
    return row && { ...row, currency: row.currency.trim() };
  }

  async countOpenOf(userId: string, since: Date): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>("SELECT count(*)::int AS n FROM orders WHERE user_id = $1 AND status = 'pending' AND created_at > $2", [userId, since]);
    return row!.n;
  }

  /** The processor's checkout of a pending order; nothing once it ended meanwhile. */
  async setCheckoutUrl(id: string, checkoutUrl: string): Promise<void> {
    await this.db.query("UPDATE orders SET checkout_url = $2 WHERE id = $1 AND status = 'pending'", [id, checkoutUrl]);
  }

  async listOfUser(userId: string, limit: number): Promise<OrderRecord[]> {
    const rows = await this.db.query<OrderRecord[]>(`SELECT ${COLUMNS} FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`, [userId, limit]);
    return rows.map((row) => ({ ...row, currency: row.currency.trim() }));
  }

  async markPaid(id: string, transactionId: string, now: Date, retainUntil: Date): Promise<void> {
    await this.db.query(
      "UPDATE orders SET status = 'paid', processor_transaction_id = $2, paid_at = $3, retain_until = GREATEST(retain_until, $4), checkout_url = NULL WHERE id = $1",
      [id, transactionId, now, retainUntil],
    );
  }

  /** pending → cancelled or failed; nothing for an order past pending (paid is final). */
  async endPending(id: string, status: 'cancelled' | 'failed', now: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>("UPDATE orders SET status = $2, closed_at = $3, checkout_url = NULL WHERE id = $1 AND status = 'pending'", [id, status, now]);
    return count === 1;
  }

  /**
   * Pending orders placed at or before `placedBefore` → cancelled (of one user, or of
   * everyone at most `limit`, oldest first, skipping rows a webhook holds). Returns the
   * kinds of those ended, for the metrics.
   */
  async cancelPendingPlacedBefore(placedBefore: Date, now: Date, scope: { userId: string } | { limit: number }): Promise<Array<'energy' | 'prime'>> {
    const [rows] =
      'userId' in scope
        ? await this.db.query<[Array<{ kind: 'energy' | 'prime' }>, number]>(
            "UPDATE orders SET status = 'cancelled', closed_at = $2, checkout_url = NULL WHERE user_id = $3 AND status = 'pending' AND created_at <= $1 RETURNING kind",
            [placedBefore, now, scope.userId],
          )
        : await this.db.query<[Array<{ kind: 'energy' | 'prime' }>, number]>(
            `UPDATE orders SET status = 'cancelled', closed_at = $2, checkout_url = NULL
              WHERE id IN (SELECT id FROM orders WHERE status = 'pending' AND created_at <= $1 ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                AND status = 'pending'
              RETURNING kind`,
            [placedBefore, now, scope.limit],
          );
    return rows.map((row) => row.kind);
  }

  /** At erasure: open orders are closed, then every order loses the link to the user and gets one random reference instead. */
  async closeAndUnlinkAllOfUser(userId: string, unlinkedRef: string, now: Date): Promise<{ closed: number; unlinked: number }> {
    const [, closed] = await this.db.query<[unknown[], number]>("UPDATE orders SET status = 'closed', closed_at = $2, checkout_url = NULL WHERE user_id = $1 AND status = 'pending'", [userId, now]);
    const [, unlinked] = await this.db.query<[unknown[], number]>('UPDATE orders SET user_id = NULL, unlinked_ref = $2 WHERE user_id = $1', [userId, unlinkedRef]);
    return { closed, unlinked };
  }

  /**
   * A sweep's next candidates, unlocked: up to `limit` orders past their retention (§5.7,
   * `retained`) or ended unpaid at or before a time (`unpaidEnded`), none of `heldSoFar`
   * (users found under a legal hold this run, §12.2) — how many, and their owners (unlinked
   * orders, user_id NULL, count in `rows` only: they belong to no one held).
   */
  async purgeCandidates(
    which: { retained: Date } | { unpaidEnded: Date },
    limit: number,
    heldSoFar: readonly string[],
  ): Promise<{ rows: number; userIds: string[] }> {
    const { due, order, at }: { due: string; order: string; at: Date } =
      'retained' in which
        ? { due: 'retain_until <= $1', order: 'retain_until', at: which.retained }
        : { due: "paid_at IS NULL AND status <> 'pending' AND closed_at <= $1", order: 'closed_at', at: which.unpaidEnded };
    const rows = await this.db.query<Array<{ user_id: string | null; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT user_id FROM orders WHERE ${due} AND (user_id IS NULL OR user_id <> ALL($3::uuid[]))
          ORDER BY ${order} LIMIT $2) c
        GROUP BY user_id`,
      [at, limit, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.flatMap((row) => (row.user_id === null ? [] : [row.user_id])) };
  }

  /**
   * §5.7: records past their retention, oldest first, at most `limit` per call — unlinked
   * ones (user_id NULL: no one held) and those of `ofUsers` (owners retention just said are
   * under no legal hold, §12.2).
   */
  async deleteRetainedBefore(now: Date, limit: number, ofUsers: readonly string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `DELETE FROM orders WHERE id IN (
         SELECT id FROM orders WHERE retain_until <= $1 AND (user_id IS NULL OR user_id = ANY($3::uuid[]))
          ORDER BY retain_until LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [now, limit, ofUsers],
    );
    return count;
  }

  /**
   * Orders that ended unpaid (cancelled, failed, closed — never paid) at or before
   * `endedBefore`: no transaction records, deleted — unlinked ones and those of `ofUsers`
   * (under no legal hold) only.
   */
  async deleteUnpaidEndedBefore(endedBefore: Date, limit: number, ofUsers: readonly string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `DELETE FROM orders WHERE id IN (
         SELECT id FROM orders WHERE paid_at IS NULL AND status <> 'pending' AND closed_at <= $1 AND (user_id IS NULL OR user_id = ANY($3::uuid[]))
          ORDER BY closed_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         AND paid_at IS NULL`,
      [endedBefore, limit, ofUsers],
    );
    return count;
  }
}

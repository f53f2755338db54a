import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Open orders are bounded (CreateOrder):
 *
 * - `checkout_url`: the processor's checkout of a pending order, so that ordering the same
 *   product again answers it instead of opening a second one; cleared when the order ends.
 * - At most one pending order per user and product, by a partial unique index (CreateOrder
 *   decides under a per-user lock; the index is the backstop). Pending duplicates from
 *   before are cancelled first, all but the newest.
 * - The indexes of the two sweeps: pending orders by age (they lapse after
 *   PENDING_ORDER_TTL_HOURS), and orders that ended unpaid by their end (deleted after
 *   UNPAID_ORDER_RETENTION_DAYS).
 */
export class OpenOrderLimits1765100000000 implements MigrationInterface {
  name = 'OpenOrderLimits1765100000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE orders ADD COLUMN checkout_url text');
    await runner.query(`
      UPDATE orders SET status = 'cancelled', closed_at = now()
       WHERE status = 'pending'
         AND id NOT IN (SELECT DISTINCT ON (user_id, product_id) id FROM orders WHERE status = 'pending' ORDER BY user_id, product_id, created_at DESC)`);
    await runner.query("CREATE UNIQUE INDEX orders_one_open_per_product ON orders (user_id, product_id) WHERE status = 'pending'");
    await runner.query("CREATE INDEX orders_pending_since ON orders (created_at) WHERE status = 'pending'");
    await runner.query("CREATE INDEX orders_unpaid_ended ON orders (closed_at) WHERE paid_at IS NULL AND status <> 'pending'");
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX orders_unpaid_ended, orders_pending_since, orders_one_open_per_product');
    await runner.query('ALTER TABLE orders DROP COLUMN checkout_url');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Billing's own tables, in its own schema (the connection's search_path).
 *
 * - `balances` is the ledger's running sum, kept in the same transaction as every entry;
 *   its CHECK is the backstop of the conditional UPDATE that spends (never negative).
 * - `ledger_entries` are append-only (a trigger refuses UPDATE; rows leave only when the
 *   user is erased). The partial unique indexes make every credit and debit happen at most
 *   once whatever the application does: one signup grant per user, one debit and one
 *   refund per reservation, one purchase credit per order.
 * - `orders` are the transaction records of §5.7: no card data (none is ever received),
 *   kept until `retain_until`; at erasure `user_id` is cleared and `unlinked_ref` set.
 * - `webhook_events` remembers which processor notifications were applied (replays).
 * - `prime_status`: one row per user with Prime, and whether its start was announced and
 *   its end not yet.
 */
export class CreateBillingTables1764900009104 implements MigrationInterface {
  name = 'CreateBillingTables1764900009104';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE balances (
        user_id uuid PRIMARY KEY,
        energy integer NOT NULL CHECK (energy >= 0),
        updated_at timestamptz NOT NULL
      )`);
    await runner.query(`
      CREATE TABLE ledger_entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id uuid NOT NULL,
        delta integer NOT NULL CHECK (delta <> 0),
        reason text NOT NULL CHECK (reason IN ('signup', 'reservation', 'refund', 'purchase')),
        reservation_id uuid,
        order_id uuid,
        created_at timestamptz NOT NULL,
        CHECK ((reason IN ('reservation', 'refund')) = (reservation_id IS NOT NULL)),
        CHECK ((reason = 'purchase') = (order_id IS NOT NULL)),
        CHECK ((reason IN ('signup', 'refund', 'purchase')) = (delta > 0))
      )`);
    await runner.query('CREATE INDEX ledger_entries_user_id ON ledger_entries (user_id)');
    await runner.query("CREATE UNIQUE INDEX ledger_entries_one_signup ON ledger_entries (user_id) WHERE reason = 'signup'");
    await runner.query("CREATE UNIQUE INDEX ledger_entries_one_debit ON ledger_entries (reservation_id) WHERE reason = 'reservation'");
    await runner.query("CREATE UNIQUE INDEX ledger_entries_one_refund ON ledger_entries (reservation_id) WHERE reason = 'refund'");
    await runner.query("CREATE UNIQUE INDEX ledger_entries_one_purchase ON ledger_entries (order_id) WHERE reason = 'purchase'");
    await runner.query(`
      CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'restrict_violation';
      END
      $$`);
    await runner.query('CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()');
    await runner.query(`
      CREATE TABLE reservations (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        purpose text NOT NULL,
        amount integer NOT NULL CHECK (amount >= 0),
        state text NOT NULL CHECK (state IN ('held', 'committed', 'refunded', 'void')),
        created_at timestamptz NOT NULL,
        settled_at timestamptz
      )`);
    await runner.query('CREATE INDEX reservations_user_id ON reservations (user_id)');
    await runner.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        user_id uuid,
        unlinked_ref text,
        product_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('energy', 'prime')),
        energy integer CHECK (energy > 0),
        prime_days integer CHECK (prime_days > 0),
        amount integer NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled', 'failed', 'closed')),
        processor text NOT NULL,
        processor_transaction_id text,
        created_at timestamptz NOT NULL,
        paid_at timestamptz,
        closed_at timestamptz,
        retain_until timestamptz NOT NULL,
        CHECK (user_id IS NOT NULL OR unlinked_ref IS NOT NULL),
        CHECK ((kind = 'energy') = (energy IS NOT NULL) AND (kind = 'prime') = (prime_days IS NOT NULL))
      )`);
    await runner.query('CREATE INDEX orders_user_id ON orders (user_id, created_at DESC) WHERE user_id IS NOT NULL');
    await runner.query('CREATE INDEX orders_retain_until ON orders (retain_until)');
    await runner.query(`
      CREATE TABLE webhook_events (
        provider text NOT NULL,
        event_id text NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (provider, event_id)
      )`);
    await runner.query('CREATE INDEX webhook_events_received_at ON webhook_events (received_at)');
    await runner.query(`
      CREATE TABLE prime_status (
        user_id uuid PRIMARY KEY,
        expires_at timestamptz NOT NULL,
        announced_active boolean NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await runner.query('CREATE INDEX prime_status_due ON prime_status (expires_at) WHERE announced_active');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE prime_status, webhook_events, orders, reservations, ledger_entries, balances');
    await runner.query('DROP FUNCTION ledger_entries_append_only()');
  }
}

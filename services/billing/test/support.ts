import { Writable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { ShiftableClock } from '@homiwork/clock';
import { loadConfig } from '@homiwork/config';
import { EventsOutbox, Outbox, type RpcClient } from '@homiwork/messaging';
import { createLogger, ServiceMetrics, type Logger } from '@homiwork/observability';
import { createServiceDataSource, Database, runMigrations, Transactor, UserTombstones } from '@homiwork/persistence';
import { createTestDatabase, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { BillingMetrics } from '../src/billing-metrics.js';
import { paymentProcessorFor } from '../src/billing.module.js';
import { billingConfigSchema, type BillingConfig } from '../src/config.js';
import { BILLING_MIGRATIONS } from '../src/migrations/index.js';
import { EnergyLedgerRepository } from '../src/persistence/energy-ledger.repository.js';
import { OrdersRepository } from '../src/persistence/orders.repository.js';
import { PrimeStatusRepository } from '../src/persistence/prime-status.repository.js';
import { ReservationsRepository } from '../src/persistence/reservations.repository.js';
import { WebhookEventsRepository } from '../src/persistence/webhook-events.repository.js';
import type { PaymentProcessor } from '../src/processors/payment-processor.js';
import { CompleteCheckout } from '../src/usecases/complete-checkout/complete-checkout.usecase.js';
import { CreateOrder } from '../src/usecases/create-order/create-order.usecase.js';
import { EndPrimePeriods } from '../src/usecases/end-prime-periods/end-prime-periods.usecase.js';
import { ExpirePendingOrders } from '../src/usecases/expire-pending-orders/expire-pending-orders.usecase.js';
import { GetBalance } from '../src/usecases/get-balance/get-balance.usecase.js';
import { GetCheckout } from '../src/usecases/get-checkout/get-checkout.usecase.js';
import { GrantSignupEnergy } from '../src/usecases/grant-signup-energy/grant-signup-energy.usecase.js';
import { ListTransactions } from '../src/usecases/list-transactions/list-transactions.usecase.js';
import { PurgeTransactionRecords } from '../src/usecases/purge-transaction-records/purge-transaction-records.usecase.js';
import { PurgeUser } from '../src/usecases/purge-user/purge-user.usecase.js';
import { ReceiveWebhook } from '../src/usecases/receive-webhook/receive-webhook.usecase.js';
import { ReserveEnergy } from '../src/usecases/reserve-energy/reserve-energy.usecase.js';
import { SettleReservation } from '../src/usecases/settle-reservation/settle-reservation.usecase.js';

export const WEBHOOK_SECRET = 'test webhook secret: thirty-two characters or more';

/** Every line a logger wrote, as JSON text, for searching. */
export function capturingLogger(service = 'billing'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ service, level: 'debug', destination }), lines };
}

export function billingTestConfig(env: Record<string, string>): BillingConfig {
  return loadConfig(billingConfigSchema, { NODE_ENV: 'test', NATS_URL: TEST_NATS_URL, PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET, PAYMENT_PROCESSOR: 'local', ...env });
}

/**
 * Billing's repositories and use cases built by hand on a fresh database of the machine's
 * PostgreSQL (no Nest, no NATS unless `rpc` is given), on a clock the test moves.
 */
export interface BillingKit {
  database: TestDatabase;
  dataSource: DataSource;
  config: BillingConfig;
  clock: ShiftableClock;
  logger: Logger;
  logLines: string[];
  transactor: Transactor;
  tombstones: UserTombstones;
  outbox: EventsOutbox;
  metrics: BillingMetrics;
  ledger: EnergyLedgerRepository;
  reservations: ReservationsRepository;
  orders: OrdersRepository;
  webhookEvents: WebhookEventsRepository;
  prime: PrimeStatusRepository;
  processor: PaymentProcessor;
  useCases: {
    grantSignupEnergy: GrantSignupEnergy;
    reserveEnergy: ReserveEnergy;
    settleReservation: SettleReservation;
    getBalance: GetBalance;
    receiveWebhook: ReceiveWebhook;
    listTransactions: ListTransactions;
    getCheckout: GetCheckout;
    completeCheckout: CompleteCheckout;
    endPrimePeriods: EndPrimePeriods;
    purgeUser: PurgeUser;
    expirePendingOrders: ExpirePendingOrders;
    purgeTransactionRecords: PurgeTransactionRecords;
    createOrder?: CreateOrder;
  };
  /** The balance and the sum of the user's ledger entries (they must always agree). */
  energyOf(userId: string): Promise<{ balance: number; ledgerSum: number }>;
  /** Rows of every billing table, every column, whose text contains `needle` (table → count). */
  rowsContaining(needle: string, options?: { except?: string[] }): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startBillingKit(options: { env?: Record<string, string>; poolSize?: number; rpc?: RpcClient } = {}): Promise<BillingKit> {
  const database = await createTestDatabase();
  const config = billingTestConfig({ DATABASE_URL: database.url, ...options.env });
  const dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'billing', migrations: BILLING_MIGRATIONS, poolSize: options.poolSize ?? 10 }).initialize();
  await runMigrations(dataSource);
  const clock = new ShiftableClock();
  const { logger, lines } = capturingLogger();
  const db = new Database(dataSource);
  const transactor = new Transactor(dataSource);
  const tombstones = new UserTombstones(db);
  const outbox = new EventsOutbox(new Outbox('billing', 'hw', clock), db);
  const metrics = new BillingMetrics(new ServiceMetrics('billing'));
  const ledger = new EnergyLedgerRepository(db);
  const reservations = new ReservationsRepository(db);
  const orders = new OrdersRepository(db);
  const webhookEvents = new WebhookEventsRepository(db);
  const prime = new PrimeStatusRepository(db);
  const processor = paymentProcessorFor(config, clock);
  const useCases: BillingKit['useCases'] = {
    grantSignupEnergy: new GrantSignupEnergy(transactor, tombstones, ledger, metrics, config, clock),
    reserveEnergy: new ReserveEnergy(transactor, tombstones, reservations, ledger, metrics, config, clock),
    settleReservation: new SettleReservation(transactor, tombstones, reservations, ledger, metrics, clock),
    getBalance: new GetBalance(ledger),
    receiveWebhook: new ReceiveWebhook(transactor, tombstones, webhookEvents, orders, ledger, prime, outbox, processor, metrics, config, clock, logger),
    listTransactions: new ListTransactions(orders),
    getCheckout: new GetCheckout(orders, processor, config),
    completeCheckout: new CompleteCheckout(orders, processor),
    endPrimePeriods: new EndPrimePeriods(transactor, tombstones, prime, outbox, metrics, clock),
    purgeUser: new PurgeUser(transactor, tombstones, ledger, reservations, orders, prime, outbox, clock),
    expirePendingOrders: new ExpirePendingOrders(orders, metrics, config, clock),
    purgeTransactionRecords: new PurgeTransactionRecords(orders, webhookEvents, config, clock),
    ...(options.rpc ? { createOrder: new CreateOrder(transactor, tombstones, orders, processor, options.rpc, metrics, config, clock, logger) } : {}),
  };
  return {
    database,
    dataSource,
    config,
    clock,
    logger,
    logLines: lines,
    transactor,
    tombstones,
    outbox,
    metrics,
    ledger,
    reservations,
    orders,
    webhookEvents,
    prime,
    processor,
    useCases,
    async energyOf(userId) {
      const [row] = await dataSource.query<Array<{ balance: number | null; ledgerSum: number | null }>>(
        `SELECT (SELECT energy FROM billing.balances WHERE user_id = $1) AS balance,
                (SELECT sum(delta)::int FROM billing.ledger_entries WHERE user_id = $1) AS "ledgerSum"`,
        [userId],
      );
      return { balance: row?.balance ?? 0, ledgerSum: row?.ledgerSum ?? 0 };
    },
    async rowsContaining(needle, { except = [] } = {}) {
      const tables = await dataSource.query<Array<{ name: string }>>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'billing' AND table_type = 'BASE TABLE' ORDER BY 1");
      const found: Record<string, number> = {};
      for (const { name } of tables) {
        if (except.includes(name)) continue;
        // The whole row as text: every column, whatever its type.
        const [row] = await dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM billing."${name}" AS r WHERE strpos(r::text, $1) > 0`, [needle]);
        if (row!.n > 0) found[name] = row!.n;
      }
      if (tables.length < 8) throw new Error(`expected billing's tables, found ${tables.map((t) => t.name).join(', ')}`);
      return found;
    },
    async close() {
      await dataSource.destroy();
      await database.drop();
    },
  };
}

/** Runs `work` as an event handler does: inside a transaction someone else opened and commits. */
export { withinTransaction } from '@homiwork/persistence';

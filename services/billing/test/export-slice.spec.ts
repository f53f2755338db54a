import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillingRpc, exportSliceRoute, type ExportSlicePage } from '@homiwork/contracts';
import { connectToNats, RpcClient, type NatsHandles } from '@homiwork/messaging';
import { startService, type StartedService } from '@homiwork/service-kit';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { BillingModule } from '../src/billing.module.js';
import { ExportSlice } from '../src/usecases/export-slice/export-slice.usecase.js';
import { GrantSignupEnergy } from '../src/usecases/grant-signup-energy/grant-signup-energy.usecase.js';
import { SettleReservation } from '../src/usecases/settle-reservation/settle-reservation.usecase.js';
import { billingTestConfig, capturingLogger } from './support.js';

// R7.1: billing's export slice, asked over NATS as retention asks it, from the billing
// service as it runs (Nest module, real transport) on the real PostgreSQL and NATS.

const Route = exportSliceRoute('billing');
let database: TestDatabase;
let started: StartedService;
let nats: NatsHandles;
let rpc: RpcClient;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  const namespace = createTestNamespace();
  const config = billingTestConfig({
    DATABASE_URL: database.url,
    EVENT_NAMESPACE: namespace,
    OPS_PORT: '0',
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    ENERGY_SIGNUP_GRANT: '100',
    CLOCK_CONTROL: 'enabled',
  });
  started = await startService(BillingModule.forRoot(config, { logger: capturingLogger().logger }), config, { service: 'billing' });
  nats = await connectToNats(TEST_NATS_URL, 'billing-export-test');
  rpc = new RpcClient(nats.nc, namespace, 10_000);
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
});
afterAll(async () => {
  await started?.close();
  await nats?.nc.drain();
  await pool?.end();
  await database?.drop();
});

const slice = (userId: string, cursor?: string) => rpc.call(Route, { userId, ...(cursor === undefined ? {} : { cursor }) }, { requestId: randomUUID() });
const sql = async <T = Record<string, unknown>>(query: string, params: unknown[] = []) => (await pool.query(query, params)).rows as T[];

async function order(userId: string, options: { kind: 'energy' | 'prime'; status: 'pending' | 'paid'; createdAt: Date; checkoutUrl?: string }): Promise<string> {
  const id = randomUUID();
  const paid = options.status === 'paid';
  await sql(
    `INSERT INTO billing.orders (id, user_id, product_id, kind, energy, prime_days, amount, currency, status, processor, processor_transaction_id, created_at, paid_at, retain_until, checkout_url)
     VALUES ($1, $2, $3, $4, $5, $6, 499, 'EUR', $7, 'local', $8, $9, $10, $11, $12)`,
    [
      id,
      userId,
      options.kind === 'prime' ? 'prime-30' : 'energy-100',
      options.kind,
      options.kind === 'energy' ? 100 : null,
      options.kind === 'prime' ? 30 : null,
      options.status,
      paid ? `txn_${id.slice(0, 8)}` : null,
      options.createdAt,
      paid ? options.createdAt : null,
      new Date(options.createdAt.getTime() + 5 * 365 * 86_400_000),
      options.checkoutUrl ?? null,
    ],
  );
  return id;
}

async function allPages(read: (cursor?: string) => Promise<ExportSlicePage>): Promise<ExportSlicePage[]> {
  const pages: ExportSlicePage[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
    if (pages.length > 1000) throw new Error('the export never ends');
  } while (cursor !== undefined);
  return pages;
}

describe('billing export slice', () => {
  it("holds the user's balance, ledger, reservations, orders (no checkout link) and Prime status, and nothing of another user", async () => {
    const userId = randomUUID();
    const otherId = randomUUID();
    await started.app.get(GrantSignupEnergy).execute(userId);
    await started.app.get(GrantSignupEnergy).execute(otherId);
    const kept = randomUUID();
    const refunded = randomUUID();
    await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: kept, purpose: 'image' }, { requestId: randomUUID() });
    await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: refunded, purpose: 'poem' }, { requestId: randomUUID() });
    await started.app.get(SettleReservation).execute({ userId, jobId: refunded, purpose: 'poem', outcome: 'failed' });
    const theirReservation = randomUUID();
    await rpc.call(BillingRpc.ReserveEnergyRoute, { userId: otherId, reservationId: theirReservation, purpose: 'song' }, { requestId: randomUUID() });
    const t0 = new Date(Date.now() - 86_400_000);
    const prime = await order(userId, { kind: 'prime', status: 'paid', createdAt: t0 });
    const pending = await order(userId, { kind: 'energy', status: 'pending', createdAt: new Date(t0.getTime() + 1_000), checkoutUrl: 'http://127.0.0.1:8080/v1/billing/checkout/secret-session' });
    const theirs = await order(otherId, { kind: 'energy', status: 'paid', createdAt: t0 });
    const primeUntil = new Date(Date.now() + 30 * 86_400_000);
    await sql('INSERT INTO billing.prime_status (user_id, expires_at, announced_active, updated_at) VALUES ($1, $2, true, $3)', [userId, primeUntil, t0]);

    const page = await slice(userId);
    expect(page.nextCursor).toBeNull();
    expect(page.files).toEqual([]);
    const { energy_balance, energy_ledger, energy_reservations, orders, prime_status } = page.collections;
    // 100 granted, 10 (image) and 2 (poem) reserved, the poem's 2 refunded.
    expect(energy_balance).toEqual([{ energy: 90, updatedAt: expect.any(String) }]);
    expect(energy_ledger!.map(({ delta, reason, reservationId, orderId }) => ({ delta, reason, reservationId, orderId }))).toEqual([
      { delta: 100, reason: 'signup', reservationId: null, orderId: null },
      { delta: -10, reason: 'reservation', reservationId: kept, orderId: null },
      { delta: -2, reason: 'reservation', reservationId: refunded, orderId: null },
      { delta: 2, reason: 'refund', reservationId: refunded, orderId: null },
    ]);
    expect(energy_reservations!.map(({ id, purpose, amount, state }) => ({ id, purpose, amount, state }))).toEqual(
      expect.arrayContaining([
        { id: kept, purpose: 'image', amount: 10, state: 'held' },
        { id: refunded, purpose: 'poem', amount: 2, state: 'refunded' },
      ]),
    );
    expect(energy_reservations).toHaveLength(2);
    expect(orders).toEqual([
      {
        id: prime,
        productId: 'prime-30',
        kind: 'prime',
        energy: null,
        primeDays: 30,
        amount: 499,
        currency: 'EUR',
        status: 'paid',
        processor: 'local',
        processorTransactionId: `txn_${prime.slice(0, 8)}`,
        createdAt: t0.toISOString(),
        paidAt: t0.toISOString(),
        closedAt: null,
        retainUntil: new Date(t0.getTime() + 5 * 365 * 86_400_000).toISOString(),
      },
      expect.objectContaining({ id: pending, kind: 'energy', energy: 100, status: 'pending', paidAt: null, processorTransactionId: null }),
    ]);
    expect(prime_status).toEqual([{ active: true, activeUntil: primeUntil.toISOString(), updatedAt: t0.toISOString() }]);
    const json = JSON.stringify(page);
    for (const absent of [otherId, theirs, theirReservation, 'secret-session', userId]) expect(json).not.toContain(absent);
  });

  it('pages by a cursor across every collection: every row once, each page within its target; the cursor works over NATS', async () => {
    const userId = randomUUID();
    await started.app.get(GrantSignupEnergy).execute(userId);
    const reservations: string[] = [];
    for (let index = 0; index < 15; index++) {
      const id = randomUUID();
      await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: id, purpose: 'poem' }, { requestId: randomUUID() });
      reservations.push(id);
    }
    const start = new Date(Date.now() - 3_600_000);
    const orders: string[] = [];
    for (let index = 0; index < 6; index++) orders.push(await order(userId, { kind: 'energy', status: 'paid', createdAt: new Date(start.getTime() + index * 1_000) }));
    await sql('INSERT INTO billing.prime_status (user_id, expires_at, announced_active, updated_at) VALUES ($1, $2, false, $2)', [userId, start]);

    const useCase = started.app.get(ExportSlice);
    const target = 1_200;
    const pages = await allPages((cursor) => useCase.execute({ userId, ...(cursor === undefined ? {} : { cursor }) }, target));
    expect(pages.length).toBeGreaterThan(4);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(target);
    const all = (name: string) => pages.flatMap((page) => page.collections[name]!);
    expect(all('energy_balance')).toHaveLength(1);
    expect(all('energy_ledger').map((entry) => entry.reservationId)).toEqual([null, ...reservations]);
    expect(new Set(all('energy_reservations').map((reservation) => reservation.id))).toEqual(new Set(reservations));
    expect(all('energy_reservations')).toHaveLength(15);
    expect(all('orders').map((item) => item.id)).toEqual(orders);
    expect(all('prime_status')).toEqual([{ active: false, activeUntil: start.toISOString(), updatedAt: start.toISOString() }]);

    const resumed = await allPages((cursor) => slice(userId, cursor ?? pages[1]!.nextCursor!));
    const count = (list: ExportSlicePage[]) => list.reduce((sum, page) => sum + Object.values(page.collections).reduce((n, items) => n + items.length, 0), 0);
    expect(count(resumed)).toBe(count(pages.slice(2)));
  });

  it('an unknown user answers empty collections; a cursor it never gave out is a 400', async () => {
    expect(await slice(randomUUID())).toEqual({
      collections: { energy_balance: [], energy_ledger: [], energy_reservations: [], orders: [], prime_status: [] },
      files: [],
      nextCursor: null,
    });
    for (const cursor of ['energy_ledger:-1', 'prime_status:1', 'orders', 'jobs:']) {
      await expect(slice(randomUUID(), cursor)).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
    }
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '@homiwork/clock';
import { RetentionRpc } from '@homiwork/contracts';
import { connectToNats, MessagingMetrics, RpcClient, RpcServer, type NatsHandles } from '@homiwork/messaging';
import { ServiceMetrics } from '@homiwork/observability';
import { LegalHolds } from '@homiwork/service-kit';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { TransactionRecordsSweeper } from '../src/usecases/purge-transaction-records/transaction-records-sweeper.js';
import { capturingLogger, startBillingKit, type BillingKit } from './support.js';

// Billing purges its own records on its own schedule (§5.7, `actsFirst: 'service'`), but
// never a held user's (§12.2): the sweep asks retention — stood in for on the real NATS by
// a responder of holds.active — and without an answer it purges nothing this round.

let kit: BillingKit;
let nats: NatsHandles;
let namespace: string;
let retention: RpcServer | undefined;
let sweeper: TransactionRecordsSweeper;
const held = new Set<string>();

function startRetention(): void {
  retention = new RpcServer(nats.nc, namespace, 'retention', capturingLogger('retention').logger, new MessagingMetrics(new ServiceMetrics('retention')));
  retention.serve(RetentionRpc.ActiveHoldsRoute, ({ userIds }) => Promise.resolve({ heldUserIds: userIds.filter((userId) => held.has(userId)) }));
}

beforeAll(async () => {
  kit = await startBillingKit();
  namespace = createTestNamespace();
  nats = await connectToNats(TEST_NATS_URL, 'billing-safety-net-test');
  startRetention();
  sweeper = new TransactionRecordsSweeper(kit.useCases.expirePendingOrders, kit.useCases.purgeTransactionRecords, new LegalHolds(new RpcClient(nats.nc, namespace, 1_000)), kit.logger, kit.config);
});
afterAll(async () => {
  await retention?.stop();
  await nats?.nc.drain();
  await kit?.close();
});

/** A paid order whose 5 years are over (linked to `userId`, or unlinked after an erasure when null). */
async function paidOrderPastRetention(userId: string | null): Promise<string> {
  const id = randomUUID();
  const createdAt = addDays(kit.clock.now(), -6 * 365);
  await kit.dataSource.query(
    `INSERT INTO billing.orders (id, user_id, unlinked_ref, product_id, kind, energy, amount, currency, status, processor, created_at, paid_at, retain_until)
     VALUES ($1, $2, $3, 'energy-100', 'energy', 100, 199, 'EUR', 'paid', 'local', $4, $4, $5)`,
    [id, userId, userId ? null : `unlinked-${id.slice(0, 8)}`, createdAt, addDays(kit.clock.now(), -1)],
  );
  return id;
}

/** An order that ended unpaid long ago (no transaction record: it goes after UNPAID_ORDER_RETENTION_DAYS). */
async function unpaidOrderLongEnded(userId: string): Promise<string> {
  const id = randomUUID();
  const closedAt = addDays(kit.clock.now(), -(kit.config.UNPAID_ORDER_RETENTION_DAYS + 1));
  await kit.dataSource.query(
    `INSERT INTO billing.orders (id, user_id, product_id, kind, energy, amount, currency, status, processor, created_at, closed_at, retain_until)
     VALUES ($1, $2, 'energy-100', 'energy', 100, 199, 'EUR', 'cancelled', 'local', $3, $3, $4)`,
    [id, userId, closedAt, addDays(closedAt, 5 * 365)],
  );
  return id;
}

const existing = async (ids: string[]) => (await kit.dataSource.query<Array<{ id: string }>>('SELECT id FROM billing.orders WHERE id = ANY($1::uuid[]) ORDER BY id', [ids])).map((row) => row.id).sort();

describe('billing’s transaction-record purge and unpaid-order expiry under legal holds', () => {
  it('keeps a held user’s due orders (paid and unpaid), deletes everyone else’s and the unlinked ones, and deletes the held ones after release', async () => {
    const heldUser = randomUUID();
    const freeUser = randomUUID();
    const heldOrders = [await paidOrderPastRetention(heldUser), await unpaidOrderLongEnded(heldUser)];
    const freeOrders = [await paidOrderPastRetention(freeUser), await unpaidOrderLongEnded(freeUser), await paidOrderPastRetention(null)];
    held.add(heldUser);

    expect(await sweeper.sweep()).toBeGreaterThanOrEqual(3);
    expect(await existing(freeOrders)).toEqual([]);
    expect(await existing(heldOrders)).toEqual([...heldOrders].sort());

    held.delete(heldUser);
    await sweeper.sweep();
    expect(await existing(heldOrders)).toEqual([]);
  });

  it('purges nothing while retention does not answer (a warning, no crash), and purges once it answers again', async () => {
    const orders = [await paidOrderPastRetention(randomUUID()), await unpaidOrderLongEnded(randomUUID())];
    await retention!.stop();
    retention = undefined;
    try {
      expect(await sweeper.sweep()).toBe(0);
      expect(await existing(orders)).toEqual([...orders].sort());
      expect(kit.logLines.some((line) => line.includes('"level":"warn"') && line.includes('transaction-record purge skips this round'))).toBe(true);
    } finally {
      startRetention();
    }
    expect(await sweeper.sweep()).toBeGreaterThanOrEqual(2);
    expect(await existing(orders)).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '@homiwork/clock';
import { IdentityRpc, UserDeletedV1 } from '@homiwork/contracts';
import { connectToNats, MessagingMetrics, RpcClient, RpcServer, type NatsHandles } from '@homiwork/messaging';
import { ServiceMetrics } from '@homiwork/observability';
import { withinTransaction } from '@homiwork/persistence';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { LegalHolds } from '@homiwork/service-kit';
import { TransactionRecordsSweeper } from '../src/usecases/purge-transaction-records/transaction-records-sweeper.js';
import { signWebhook } from '../src/webhooks/webhook-signature.js';
import { startHttpRecorder, type RecordedRequest } from './http-recorder.js';
import { capturingLogger, startBillingKit, WEBHOOK_SECRET, type BillingKit } from './support.js';

// Orders, the generic processor, signed webhooks, Prime and erasure, on the real database
// and NATS. The processor's API is a local HTTP server that records every byte it gets;
// identity's identifiers route is answered over NATS by a responder in the test (the real
// identity service is not started here; the lead's e2e runs them together).

const PROVIDER = 'acme';
const VISA = '4111111111111111';

let kit: BillingKit;
let nats: NatsHandles;
let identity: RpcServer;
let processor: Awaited<ReturnType<typeof startHttpRecorder>>;
let processorFails = false;
const emails = new Map<string, string>();
let identityCalls = 0;
const usernameOf = (userId: string) => `user_${userId.slice(0, 8)}`;

beforeAll(async () => {
  const namespace = createTestNamespace();
  nats = await connectToNats(TEST_NATS_URL, 'billing-payments-test');
  identity = new RpcServer(nats.nc, namespace, 'identity', capturingLogger('identity').logger, new MessagingMetrics(new ServiceMetrics('identity')));
  identity.serve(IdentityRpc.GetIdentifiersRoute, ({ userId }) => {
    identityCalls++;
    const email = emails.get(userId);
    return email ? Promise.resolve({ email, username: usernameOf(userId) }) : Promise.reject(new (class extends Error {})('unknown'));
  });
  processor = await startHttpRecorder((request: RecordedRequest) => {
    if (processorFails) return { status: 500, body: '{"error":"down"}' };
    const { orderId } = JSON.parse(request.body) as { orderId: string };
    return { status: 201, body: JSON.stringify({ checkoutUrl: `https://pay.example/checkout/${orderId}` }) };
  });
  kit = await startBillingKit({
    // Three open orders at most: below the built-in catalogue's four products, so the limit can be reached.
    env: { PAYMENT_PROCESSOR: 'webhook', PAYMENT_PROVIDER_NAME: PROVIDER, PAYMENT_PROCESSOR_URL: `${processor.url}/v1/orders`, ENERGY_SIGNUP_GRANT: '100', MAX_OPEN_ORDERS_PER_USER: '3' },
    rpc: new RpcClient(nats.nc, namespace, 3_000),
  });
});
afterAll(async () => {
  await identity?.stop();
  await nats?.nc.drain();
  await processor?.stop();
  await kit?.close();
});

const caller = (userId: string) => ({ requestId: randomUUID(), userId });

function newBuyer(): string {
  const userId = randomUUID();
  emails.set(userId, `buyer.${userId.slice(0, 8)}@example.com`);
  return userId;
}

async function order(userId: string, productId: string) {
  return kit.useCases.createOrder!.execute({ productId }, caller(userId));
}

function notification(orderId: string, type: 'payment.succeeded' | 'payment.failed' | 'payment.cancelled', overrides: Record<string, unknown> = {}) {
  return JSON.stringify({ id: `evt_${randomUUID()}`, type, orderId, ...(type === 'payment.succeeded' ? { transactionId: `pi_${randomUUID().slice(0, 12)}` } : {}), amount: 499, currency: 'EUR', occurredAt: kit.clock.now().toISOString(), ...overrides });
}

const nowSeconds = () => Math.floor(kit.clock.nowMs() / 1000);
const deliver = (body: string, signature = signWebhook(WEBHOOK_SECRET, body, nowSeconds()), provider = PROVIDER) => kit.useCases.receiveWebhook.execute({ provider, signature, body });

async function statusOf(orderId: string) {
  return (await kit.orders.find(orderId))!.status;
}

describe('CreateOrder and the processor (§7.1: amount, currency, order id, email — nothing else)', () => {
  it('gives the processor exactly those four fields, keeps the email nowhere, and answers its checkout URL', async () => {
    const userId = newBuyer();
    const before = processor.requests.length;
    const created = await order(userId, 'energy-100');
    expect(created).toEqual({ orderId: expect.any(String), amount: 199, currency: 'EUR', checkoutUrl: `https://pay.example/checkout/${created.orderId}` });
    const [sent] = processor.requests.slice(before);
    expect(sent!.method).toBe('POST');
    expect(sent!.url).toBe('/v1/orders');
    expect(JSON.parse(sent!.body)).toEqual({ orderId: created.orderId, amount: 199, currency: 'EUR', email: emails.get(userId) });
    // No id of ours but the order's, in any header either.
    expect(JSON.stringify(sent!.headers)).not.toContain(userId);
    expect(Object.keys(sent!.headers).sort()).toEqual(['accept', 'accept-encoding', 'accept-language', 'connection', 'content-length', 'content-type', 'host', 'sec-fetch-mode', 'user-agent'].filter((key) => key in sent!.headers).sort());
    expect(await kit.rowsContaining(emails.get(userId)!)).toEqual({});
    expect(kit.logLines.join('\n')).not.toContain(emails.get(userId)!);
    // Identity answers the username too: billing drops it at once — not sent, stored or logged.
    expect(sent!.body).not.toContain(usernameOf(userId));
    expect(await kit.rowsContaining(usernameOf(userId))).toEqual({});
    expect(kit.logLines.join('\n')).not.toContain(usernameOf(userId));
    expect(await statusOf(created.orderId)).toBe('pending');
    expect((await kit.useCases.listTransactions.execute(caller(userId))).items).toEqual([
      { orderId: created.orderId, productId: 'energy-100', kind: 'energy', amount: 199, currency: 'EUR', status: 'pending', createdAt: expect.any(String), paidAt: null },
    ]);
  });

  it('refuses an unknown product (404) and an anonymous caller (401) without asking anyone', async () => {
    const before = processor.requests.length;
    await expect(order(newBuyer(), 'energy-1000000')).rejects.toMatchObject({ status: 404, code: 'product_not_found' });
    await expect(kit.useCases.createOrder!.execute({ productId: 'energy-100' }, { requestId: 'r' })).rejects.toMatchObject({ status: 401 });
    expect(processor.requests.length).toBe(before);
  });

  it('a processor that fails leaves the order failed and answers 503', async () => {
    const userId = newBuyer();
    processorFails = true;
    try {
      await expect(order(userId, 'prime-30')).rejects.toMatchObject({ status: 503, code: 'service_unavailable' });
    } finally {
      processorFails = false;
    }
    const [failed] = (await kit.useCases.listTransactions.execute(caller(userId))).items;
    expect(failed).toMatchObject({ productId: 'prime-30', status: 'failed' });
  });
});

const HOUR_MS = 3_600_000;
const openOrdersOf = async (userId: string) =>
  (await kit.dataSource.query<Array<{ n: number }>>("SELECT count(*)::int AS n FROM billing.orders WHERE user_id = $1 AND status = 'pending'", [userId]))[0]!.n;
const exists = async (orderId: string) => (await kit.dataSource.query('SELECT 1 FROM billing.orders WHERE id = $1', [orderId])).length === 1;
// Retention stood in: no user under a legal hold (services/billing/test/safety-net.spec.ts asks the real route).
class NoHolds extends LegalHolds {
  constructor() {
    super(undefined as never);
  }
  override heldAmong(): Promise<Set<string>> {
    return Promise.resolve(new Set());
  }
}
const noHolds = new NoHolds();
const sweeper = () => new TransactionRecordsSweeper(kit.useCases.expirePendingOrders, kit.useCases.purgeTransactionRecords, noHolds, kit.logger, kit.config);

describe('open orders: answered again, limited, lapsing, and unpaid ones kept briefly', () => {
  it('a second order for the same product while the first is open answers the same order and checkout: no second order, no second call to identity or the processor', async () => {
    const userId = newBuyer();
    const first = await order(userId, 'energy-100');
    const calls = { processor: processor.requests.length, identity: identityCalls };
    expect(await order(userId, 'energy-100')).toEqual(first);
    expect(await order(userId, 'energy-100')).toEqual(first);
    expect(processor.requests.length).toBe(calls.processor);
    expect(identityCalls).toBe(calls.identity);
    expect(await openOrdersOf(userId)).toBe(1);
    // Another product is another order; once the first has ended, the same product is a new one.
    const other = await order(userId, 'prime-30');
    expect(other.orderId).not.toBe(first.orderId);
    await deliver(notification(first.orderId, 'payment.cancelled', { amount: 199 }));
    const again = await order(userId, 'energy-100');
    expect(again.orderId).not.toBe(first.orderId);
    expect(processor.requests.length).toBe(calls.processor + 2);
  });

  it('the same product ordered 8 times at once: one order, one call to the processor; the others answer that order or 409 order_in_progress', async () => {
    const userId = newBuyer();
    const before = processor.requests.length;
    const answers = await Promise.allSettled(Array.from({ length: 8 }, () => order(userId, 'energy-500')));
    const created = answers.filter((answer) => answer.status === 'fulfilled').map((answer) => answer.value);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((answer) => answer.orderId)).size).toBe(1);
    for (const answer of answers) if (answer.status === 'rejected') expect(answer.reason).toMatchObject({ status: 409, code: 'order_in_progress', retryAfterSeconds: expect.any(Number) });
    expect(processor.requests.length - before).toBe(1);
    expect(await openOrdersOf(userId)).toBe(1);
    expect(await order(userId, 'energy-500')).toEqual(created[0]);
  });

  it('refuses an order beyond MAX_OPEN_ORDERS_PER_USER open ones with 409 too_many_open_orders, without asking anyone; one ending makes room', async () => {
    const userId = newBuyer();
    const open = [await order(userId, 'energy-100'), await order(userId, 'energy-500'), await order(userId, 'prime-30')];
    const calls = { processor: processor.requests.length, identity: identityCalls };
    const refused = order(userId, 'prime-365');
    await expect(refused).rejects.toMatchObject({ status: 409, code: 'too_many_open_orders' });
    await expect(refused).rejects.toThrow(/3 unpaid orders/);
    expect(processor.requests.length).toBe(calls.processor);
    expect(identityCalls).toBe(calls.identity);
    expect(await openOrdersOf(userId)).toBe(3);
    // An open product is still answered: that is no new order.
    expect(await order(userId, 'prime-30')).toEqual(open[2]);
    await deliver(notification(open[0]!.orderId, 'payment.succeeded', { amount: 199 }));
    expect((await order(userId, 'prime-365')).amount).toBe(3999);
  });

  it('an order not paid within PENDING_ORDER_TTL_HOURS is cancelled by the sweep (and no longer answered or counted); a late success still pays it and keeps it 5 years', async () => {
    const userId = newBuyer();
    const lapsing = await order(userId, 'energy-100');
    const latePaid = await order(userId, 'energy-500');
    kit.clock.advance(23 * HOUR_MS);
    await sweeper().sweep();
    expect(await statusOf(lapsing.orderId)).toBe('pending');
    expect(await order(userId, 'energy-100')).toEqual(lapsing);
    kit.clock.advance(2 * HOUR_MS);
    expect(await sweeper().sweep()).toBeGreaterThanOrEqual(2);
    expect(await statusOf(lapsing.orderId)).toBe('cancelled');
    expect(await statusOf(latePaid.orderId)).toBe('cancelled');
    expect(kit.clock.nowMs() - (await kit.orders.find(lapsing.orderId))!.closedAt!.getTime()).toBeLessThan(5_000);
    // The buyer gets a new checkout for the product.
    const renewed = await order(userId, 'energy-100');
    expect(renewed.orderId).not.toBe(lapsing.orderId);
    // The processor took the money after all: paid, credited, a transaction record.
    await deliver(notification(latePaid.orderId, 'payment.succeeded', { amount: 799 }));
    expect(await statusOf(latePaid.orderId)).toBe('paid');
    expect(await kit.energyOf(userId)).toEqual({ balance: 500, ledgerSum: 500 });
  });

  it('an order past its time is ended when its buyer orders again, also before any sweep ran', async () => {
    const userId = newBuyer();
    const stale = await order(userId, 'prime-30');
    kit.clock.advance(25 * HOUR_MS);
    const fresh = await order(userId, 'prime-30');
    expect(fresh.orderId).not.toBe(stale.orderId);
    expect(await statusOf(stale.orderId)).toBe('cancelled');
    expect(await openOrdersOf(userId)).toBe(1);
  });

  it('an order whose checkout never came back (a crash between the order and the processor) is failed and replaced once the processor’s time is up', async () => {
    const userId = newBuyer();
    const orderId = randomUUID();
    const now = kit.clock.now();
    await kit.orders.insert({ id: orderId, userId, productId: 'energy-100', kind: 'energy', energy: 100, primeDays: null, amount: 199, currency: 'EUR', status: 'pending', processor: PROVIDER, createdAt: now, retainUntil: now });
    await expect(order(userId, 'energy-100')).rejects.toMatchObject({ status: 409, code: 'order_in_progress' });
    kit.clock.advance(kit.config.PAYMENT_PROCESSOR_TIMEOUT_MS + 10_000);
    const replaced = await order(userId, 'energy-100');
    expect(replaced.orderId).not.toBe(orderId);
    expect(await statusOf(orderId)).toBe('failed');
  });

  it('never-paid orders are deleted UNPAID_ORDER_RETENTION_DAYS after they ended; paid ones stay for the 5 years of §5.7', async () => {
    const userId = newBuyer();
    const cancelled = await order(userId, 'energy-100');
    const paid = await order(userId, 'energy-500');
    const lapsed = await order(userId, 'prime-30');
    await deliver(notification(cancelled.orderId, 'payment.cancelled', { amount: 199 }));
    await deliver(notification(paid.orderId, 'payment.succeeded', { amount: 799 }));
    processorFails = true;
    try {
      await expect(order(userId, 'prime-365')).rejects.toMatchObject({ status: 503 });
    } finally {
      processorFails = false;
    }
    const [failed] = (await kit.useCases.listTransactions.execute(caller(userId))).items.filter((item) => item.status === 'failed');
    kit.clock.advance(25 * HOUR_MS);
    await sweeper().sweep();
    expect(await statusOf(lapsed.orderId)).toBe('cancelled');
    // An hour short of 30 days after the cancel and the failure: all kept.
    kit.clock.advance(30 * DAY_MS - 26 * HOUR_MS);
    await sweeper().sweep();
    expect([await exists(cancelled.orderId), await exists(failed!.orderId), await exists(lapsed.orderId)]).toEqual([true, true, true]);
    // An hour past: those two go; the lapsed order ended a day later and stays a day longer.
    kit.clock.advance(2 * HOUR_MS);
    await sweeper().sweep();
    expect([await exists(cancelled.orderId), await exists(failed!.orderId), await exists(lapsed.orderId)]).toEqual([false, false, true]);
    kit.clock.advance(DAY_MS);
    await sweeper().sweep();
    expect(await exists(lapsed.orderId)).toBe(false);
    expect(await exists(paid.orderId)).toBe(true);
    expect((await kit.useCases.listTransactions.execute(caller(userId))).items.map((item) => [item.orderId, item.status])).toEqual([[paid.orderId, 'paid']]);
  });
});

describe('signed webhooks (R6.2)', () => {
  it('a valid success is applied once: 200, the order paid, the energy credited once; a replay (same body, or re-signed later) changes nothing', async () => {
    const userId = newBuyer();
    const { orderId } = await order(userId, 'energy-100');
    const body = notification(orderId, 'payment.succeeded', { amount: 199 });
    const signature = signWebhook(WEBHOOK_SECRET, body, nowSeconds());
    expect(await deliver(body, signature)).toEqual({ received: true });
    expect(await deliver(body, signature)).toEqual({ received: true });
    kit.clock.advance(60_000);
    expect(await deliver(body)).toEqual({ received: true });
    expect(await statusOf(orderId)).toBe('paid');
    expect(await kit.energyOf(userId)).toEqual({ balance: 100, ledgerSum: 100 });
    const paid = await kit.orders.find(orderId);
    expect(paid!.processorTransactionId).toBe((JSON.parse(body) as { transactionId: string }).transactionId);
    expect(paid!.paidAt).toBeInstanceOf(Date);
  });

  it('a bad, missing or malformed signature is 401 and changes nothing', async () => {
    const { orderId } = await order(newBuyer(), 'prime-30');
    const body = notification(orderId, 'payment.succeeded');
    for (const signature of [signWebhook('another secret of thirty-two characters!', body, nowSeconds()), undefined, 'v1=abc']) {
      await expect(kit.useCases.receiveWebhook.execute({ provider: PROVIDER, body, ...(signature ? { signature } : {}) })).rejects.toMatchObject({ status: 401, code: 'invalid_signature' });
    }
    // The signature covers the exact bytes: one added space is another body.
    await expect(deliver(`${body} `, signWebhook(WEBHOOK_SECRET, body, nowSeconds()))).rejects.toMatchObject({ status: 401 });
    expect(await statusOf(orderId)).toBe('pending');
    expect(await kit.dataSource.query('SELECT 1 FROM billing.webhook_events WHERE event_id = $1', [(JSON.parse(body) as { id: string }).id])).toHaveLength(0);
  });

  it('a stale timestamp (more than 300 s away by the service clock) is 401, also with a valid HMAC', async () => {
    const { orderId } = await order(newBuyer(), 'prime-30');
    const body = notification(orderId, 'payment.succeeded');
    await expect(deliver(body, signWebhook(WEBHOOK_SECRET, body, nowSeconds() - 301))).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/300 s/) });
    await expect(deliver(body, signWebhook(WEBHOOK_SECRET, body, nowSeconds() + 400))).rejects.toMatchObject({ status: 401 });
    expect(await statusOf(orderId)).toBe('pending');
  });

  it('out of order: a cancel then a success marks the order paid and credits (money was taken); a cancel or failure after paid changes nothing', async () => {
    const userId = newBuyer();
    const { orderId } = await order(userId, 'energy-500');
    await deliver(notification(orderId, 'payment.cancelled', { amount: 799 }));
    expect(await statusOf(orderId)).toBe('cancelled');
    await deliver(notification(orderId, 'payment.succeeded', { amount: 799 }));
    expect(await statusOf(orderId)).toBe('paid');
    await deliver(notification(orderId, 'payment.cancelled', { amount: 799 }));
    await deliver(notification(orderId, 'payment.failed', { amount: 799 }));
    expect(await statusOf(orderId)).toBe('paid');
    expect(await kit.energyOf(userId)).toEqual({ balance: 500, ledgerSum: 500 });
  });

  it('two successes with different event ids (also at the same moment) credit once', async () => {
    const userId = newBuyer();
    const { orderId } = await order(userId, 'energy-500');
    await Promise.all([deliver(notification(orderId, 'payment.succeeded', { amount: 799 })), deliver(notification(orderId, 'payment.succeeded', { amount: 799 }))]);
    await deliver(notification(orderId, 'payment.succeeded', { amount: 799 }));
    expect(await kit.energyOf(userId)).toEqual({ balance: 500, ledgerSum: 500 });
  });

  it('a failure before payment fails the order; nothing is credited', async () => {
    const userId = newBuyer();
    const { orderId } = await order(userId, 'energy-100');
    await deliver(notification(orderId, 'payment.failed', { amount: 199 }));
    expect(await statusOf(orderId)).toBe('failed');
    expect(await kit.energyOf(userId)).toEqual({ balance: 0, ledgerSum: 0 });
  });

  it('an amount or currency other than the order’s, an unknown order or a malformed body is 400 invalid_webhook; the event id stays unused', async () => {
    const userId = newBuyer();
    const { orderId } = await order(userId, 'energy-100');
    const wrongAmount = notification(orderId, 'payment.succeeded', { amount: 1 });
    await expect(deliver(wrongAmount)).rejects.toMatchObject({ status: 400, code: 'invalid_webhook' });
    await expect(deliver(notification(orderId, 'payment.succeeded', { amount: 199, currency: 'USD' }))).rejects.toMatchObject({ status: 400 });
    await expect(deliver(notification(randomUUID(), 'payment.succeeded', { amount: 199 }))).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/orderId/) });
    await expect(deliver('{"id":"evt_x","type":"payment.refunded"}')).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/type/) });
    await expect(deliver('not json')).rejects.toMatchObject({ status: 400 });
    expect(await statusOf(orderId)).toBe('pending');
    expect(await kit.dataSource.query('SELECT 1 FROM billing.webhook_events WHERE event_id = $1', [(JSON.parse(wrongAmount) as { id: string }).id])).toHaveLength(0);
    expect(await kit.energyOf(userId)).toEqual({ balance: 0, ledgerSum: 0 });
  });

  it('a provider other than the configured processor is 404', async () => {
    const body = notification(randomUUID(), 'payment.succeeded');
    await expect(deliver(body, signWebhook(WEBHOOK_SECRET, body, nowSeconds()), 'local')).rejects.toMatchObject({ status: 404 });
  });
});

describe('card data is refused before anything else (§2.1.5)', () => {
  it('422 card_data_refused — before the signature check — and the number is in no table and no log line, nor in the answer', async () => {
    const userId = newBuyer();
    const { orderId } = await order(userId, 'energy-100');
    const eventId = `evt_${randomUUID()}`;
    const bodies = [
      notification(orderId, 'payment.succeeded', { id: eventId, amount: 199, card: { number: VISA } }),
      notification(orderId, 'payment.succeeded', { id: eventId, amount: 199, note: '4111 1111 1111 1111' }),
      notification(orderId, 'payment.succeeded', { id: eventId, amount: 199, payment_method: { cvc: '737', exp_month: 3, exp_year: 2030 } }),
    ];
    for (const body of bodies) {
      const answers = await Promise.allSettled([deliver(body), deliver(body, 't=1,v1=00'), deliver(body, undefined, 'nonexistent')]);
      for (const answer of answers) {
        expect(answer.status).toBe('rejected');
        const error = (answer as PromiseRejectedResult).reason as { status: number; code: string; message: string };
        expect(error).toMatchObject({ status: 422, code: 'card_data_refused' });
        expect(error.message).not.toMatch(/4111|737/);
      }
    }
    expect(await kit.rowsContaining(VISA)).toEqual({});
    expect(await kit.rowsContaining('4111 1111')).toEqual({});
    expect(await kit.rowsContaining(eventId)).toEqual({});
    const logs = kit.logLines.join('\n');
    expect(logs).not.toContain(VISA);
    expect(logs).not.toContain('4111 1111');
    expect(logs).not.toContain(eventId);
    expect(await statusOf(orderId)).toBe('pending');
    expect(await kit.energyOf(userId)).toEqual({ balance: 0, ledgerSum: 0 });
  });
});

const outboxEvents = async (type: string, userId: string) =>
  (await kit.dataSource.query<Array<{ payload: Record<string, unknown> }>>("SELECT payload FROM billing.outbox WHERE type = $1 AND payload->>'userId' = $2 ORDER BY occurred_at, id", [type, userId])).map((row) => row.payload);

describe('Prime', () => {
  it('a paid Prime order starts it (PrimeStatusChanged active, end = now + days); a second extends from the current end', async () => {
    const userId = newBuyer();
    const first = await order(userId, 'prime-30');
    const paidAt = kit.clock.nowMs();
    await deliver(notification(first.orderId, 'payment.succeeded'));
    const second = await order(userId, 'prime-365');
    await deliver(notification(second.orderId, 'payment.succeeded', { amount: 3999 }));
    const events = await outboxEvents('PrimeStatusChanged.v1', userId);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ userId, active: true });
    const firstEnd = Date.parse(events[0]!.expiresAt as string);
    expect(firstEnd - paidAt).toBeGreaterThanOrEqual(30 * DAY_MS - 1_000);
    expect(firstEnd - paidAt).toBeLessThanOrEqual(30 * DAY_MS + 1_000);
    expect(Date.parse(events[1]!.expiresAt as string)).toBe(firstEnd + 365 * DAY_MS);
    expect(await kit.energyOf(userId)).toEqual({ balance: 0, ledgerSum: 0 });
  });

  it('the clock moved past the end: the sweep announces active:false with the end date, once; an extension bought before the sweep ran is not ended', async () => {
    const ending = newBuyer();
    const renewing = newBuyer();
    for (const userId of [ending, renewing]) await deliver(notification((await order(userId, 'prime-30')).orderId, 'payment.succeeded'));
    const end = (await kit.prime.find(ending))!.expiresAt;
    kit.clock.advance(31 * DAY_MS);
    // Renewed after the end but before any sweep: its end moves to now + 30 days.
    await deliver(notification((await order(renewing, 'prime-30')).orderId, 'payment.succeeded'));
    expect(await kit.useCases.endPrimePeriods.execute()).toBeGreaterThanOrEqual(1);
    expect(await kit.useCases.endPrimePeriods.execute()).toBe(0);
    const ended = await outboxEvents('PrimeStatusChanged.v1', ending);
    expect(ended.map((event) => event.active)).toEqual([true, false]);
    expect(ended[1]).toMatchObject({ active: false, expiresAt: end.toISOString() });
    expect((await outboxEvents('PrimeStatusChanged.v1', renewing)).map((event) => event.active)).toEqual([true, true]);
  });
});

describe('erasure (UserDeleted) and the 5-year record retention (R6.3, §5.7)', () => {
  it('leaves no row with the user id; orders stay, closed if open, under one random reference; a late payment is recorded, credited to nobody; 5 years later the records are gone', async () => {
    const userId = newBuyer();
    await kit.useCases.grantSignupEnergy.execute(userId);
    await kit.useCases.reserveEnergy.execute({ userId, reservationId: randomUUID(), purpose: 'song' });
    const paid = await order(userId, 'prime-30');
    await deliver(notification(paid.orderId, 'payment.succeeded'));
    const open = await order(userId, 'energy-100');
    expect(Object.keys(await kit.rowsContaining(userId, { except: ['outbox'] })).sort()).toEqual(['balances', 'ledger_entries', 'orders', 'prime_status', 'reservations']);

    const messageId = randomUUID();
    await kit.dataSource.transaction((manager) => withinTransaction(manager, () => kit.useCases.purgeUser.execute(userId, randomUUID(), { type: UserDeletedV1.type, messageId })));
    // The tombstone is the erasure's own record (an id, never who); the outbox is a queue the relay empties.
    expect(await kit.rowsContaining(userId, { except: ['tombstones', 'outbox'] })).toEqual({});
    const records = await kit.dataSource.query<Array<{ id: string; status: string; unlinkedRef: string; userId: string | null }>>(
      'SELECT id, status, unlinked_ref AS "unlinkedRef", user_id AS "userId" FROM billing.orders WHERE id = ANY($1::uuid[]) ORDER BY created_at',
      [[paid.orderId, open.orderId]],
    );
    expect(records.map((record) => [record.status, record.userId])).toEqual([
      ['paid', null],
      ['closed', null],
    ]);
    expect(records[0]!.unlinkedRef).toMatch(/^erased-[0-9a-f]{32}$/);
    expect(records[1]!.unlinkedRef).toBe(records[0]!.unlinkedRef);
    const [receipt] = await kit.dataSource.query<Array<{ counts: unknown }>>("SELECT payload->'counts' AS counts FROM billing.outbox WHERE type = 'PurgeCompleted.v1' AND payload->'trigger'->>'messageId' = $1", [messageId]);
    expect(receipt!.counts).toEqual({ balances: 1, ledger_entries: 2, reservations: 1, prime_status: 1, orders_closed: 1, orders_unlinked: 2 });

    // Nothing is written for the user again; a payment that completes anyway is recorded (money was taken), credited to nobody.
    await expect(kit.useCases.reserveEnergy.execute({ userId, reservationId: randomUUID(), purpose: 'chat' })).rejects.toMatchObject({ status: 401 });
    expect(await kit.useCases.grantSignupEnergy.execute(userId)).toBe(false);
    await deliver(notification(open.orderId, 'payment.succeeded', { amount: 199 }));
    expect(await statusOf(open.orderId)).toBe('paid');
    expect(await kit.rowsContaining(userId, { except: ['tombstones', 'outbox'] })).toEqual({});

    // Kept 5 years after creation or payment, then deleted by the scheduled purge.
    kit.clock.advance(5 * 365 * DAY_MS - 40 * DAY_MS);
    await kit.useCases.purgeTransactionRecords.execute(noHolds);
    expect(await kit.dataSource.query('SELECT 1 FROM billing.orders WHERE id = ANY($1::uuid[])', [[paid.orderId, open.orderId]])).toHaveLength(2);
    kit.clock.advance(45 * DAY_MS);
    expect(await kit.useCases.purgeTransactionRecords.execute(noHolds)).toBeGreaterThanOrEqual(2);
    expect(await kit.dataSource.query('SELECT 1 FROM billing.orders WHERE id = ANY($1::uuid[])', [[paid.orderId, open.orderId]])).toHaveLength(0);
    expect(await kit.dataSource.query('SELECT 1 FROM billing.webhook_events')).toHaveLength(0);
  });
});

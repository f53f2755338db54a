import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { DAY_MS } from '@homiwork/clock';
import {
  BillingRpc,
  clockControlSubject,
  eventFilterSubject,
  eventSubject,
  EVENTS_STREAM,
  GenerationFinishedV1,
  IdentityRpc,
  parseEventPayload,
  PrimeStatusChangedV1,
  PurgeCompletedV1,
  streamName,
  UserDeletedV1,
  UserRegisteredV1,
  type EventContract,
  type EventPayload,
} from '@homiwork/contracts';
import { connectToNats, EVENT_TYPE_HEADER, MESSAGE_ID_HEADER, MessagingMetrics, OCCURRED_AT_HEADER, RpcClient, type RpcError, RpcServer, type NatsHandles } from '@homiwork/messaging';
import { ServiceMetrics } from '@homiwork/observability';
import { startService, type StartedService } from '@homiwork/service-kit';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { BillingModule } from '../src/billing.module.js';
import { startHttpRecorder } from './http-recorder.js';
import { billingTestConfig, capturingLogger } from './support.js';

// The billing service as it runs (Nest module, NATS transport, durable consumers, outbox
// relay) on the real PostgreSQL and NATS: requests over NATS RPC as the gateway and
// generation send them, events through JetStream as identity and generation publish them.
// A small HTTP server stands in for the gateway's webhook route: it forwards the raw body
// and the Processor-Signature header to ReceiveWebhook over NATS, as the gateway does, so
// the local processor's checkout runs end to end over real HTTP.

const VISA = '4111111111111111';

let database: TestDatabase;
let namespace: string;
let nats: NatsHandles;
let started: StartedService;
let rpc: RpcClient;
let identity: RpcServer;
let gateway: Awaited<ReturnType<typeof startHttpRecorder>>;
let dataSource: DataSource;
const { logger, lines } = capturingLogger();
const emails = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  namespace = createTestNamespace();
  nats = await connectToNats(TEST_NATS_URL, 'billing-service-test');
  rpc = new RpcClient(nats.nc, namespace, 10_000);
  identity = new RpcServer(nats.nc, namespace, 'identity', capturingLogger('identity').logger, new MessagingMetrics(new ServiceMetrics('identity')));
  identity.serve(IdentityRpc.GetIdentifiersRoute, ({ userId }) => Promise.resolve({ email: emails.get(userId) ?? 'nobody@example.com', username: 'someone' }));
  gateway = await startHttpRecorder(async (request) => {
    const provider = /^\/v1\/billing\/webhooks\/([^/?]+)$/.exec(request.url)?.[1];
    if (request.method !== 'POST' || !provider) return { status: 404 };
    const signature = request.headers['processor-signature'];
    try {
      const answer = await rpc.call(BillingRpc.ReceiveWebhookRoute, { provider, body: request.body, ...(typeof signature === 'string' ? { signature } : {}) }, { requestId: randomUUID() });
      return { status: 200, body: JSON.stringify(answer) };
    } catch (error) {
      const failure = error as RpcError;
      return { status: failure.status ?? 500, body: JSON.stringify({ code: failure.code }) };
    }
  });
  const config = billingTestConfig({
    DATABASE_URL: database.url,
    EVENT_NAMESPACE: namespace,
    OPS_PORT: '0',
    LOG_LEVEL: 'debug',
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    PUBLIC_API_URL: gateway.url,
    // Ten images' worth: the concurrency test below spends it.
    ENERGY_SIGNUP_GRANT: '100',
    PRIME_SWEEP_INTERVAL_MS: '200',
    CLOCK_CONTROL: 'enabled',
  });
  started = await startService(BillingModule.forRoot(config, { logger }), config, { service: 'billing' });
  dataSource = started.app.get(DataSource);
});
afterAll(async () => {
  await started?.close();
  await identity?.stop();
  await nats?.nc.drain();
  await gateway?.stop();
  await database?.drop();
});

const as = (userId?: string) => ({ requestId: randomUUID(), ...(userId ? { userId } : {}) });
const balanceOf = async (userId: string) => (await rpc.call(BillingRpc.GetBalanceRoute, {}, as(userId))).energy;

async function publish<E extends EventContract>(event: E, payload: EventPayload<E>, messageId = randomUUID()): Promise<void> {
  const h = natsHeaders();
  h.set(EVENT_TYPE_HEADER, event.type);
  h.set(OCCURRED_AT_HEADER, new Date().toISOString());
  h.set(MESSAGE_ID_HEADER, messageId);
  // A fresh JetStream message id each time: a redelivery of the same outbox message must be
  // recognised by the consumer, not dropped by the stream's duplicate window.
  await jetstream(nats.nc).publish(eventSubject(namespace, event, (event.announcedBy?.(payload) ?? event.publishers)[0]), JSON.stringify(parseEventPayload(event, payload)), { msgID: randomUUID(), headers: h });
}

async function streamEvents<E extends EventContract>(event: E): Promise<Array<EventPayload<E>>> {
  const jsm = await jetstreamManager(nats.nc);
  const stream = streamName(namespace, EVENTS_STREAM);
  const { name } = await jsm.consumers.add(stream, { filter_subject: eventFilterSubject(namespace, event), ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
  const pending = (await jsm.consumers.info(stream, name)).num_pending;
  const payloads: Array<EventPayload<E>> = [];
  if (pending > 0) {
    for await (const msg of await (await jetstream(nats.nc).consumers.get(stream, name)).fetch({ max_messages: pending, expires: 2_000 })) {
      payloads.push(msg.json<EventPayload<E>>());
      if (payloads.length === pending) break;
    }
  }
  await jsm.consumers.delete(stream, name);
  return payloads;
}

async function registeredUser(): Promise<string> {
  const userId = randomUUID();
  emails.set(userId, `buyer.${userId.slice(0, 8)}@example.com`);
  await publish(UserRegisteredV1, { userId, registeredAt: new Date().toISOString() });
  await eventually(async () => (await balanceOf(userId)) === 100, { what: 'the signup grant' });
  return userId;
}

describe('energy over NATS (the Energy must-show)', () => {
  it('50 concurrent reservations over NATS RPC on a balance that pays for 10: exactly 10 succeed, 40 answer 402, balance 0, ledger sum = balance', async () => {
    const userId = await registeredUser();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: randomUUID(), purpose: 'image' }, as())));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(refused).toHaveLength(40);
    for (const { reason } of refused) expect(reason).toMatchObject({ status: 402, code: 'insufficient_energy' });
    expect(await balanceOf(userId)).toBe(0);
    const [sum] = await dataSource.query<Array<{ sum: number }>>('SELECT sum(delta)::int AS sum FROM billing.ledger_entries WHERE user_id = $1', [userId]);
    expect(sum!.sum).toBe(0);
  });

  it('GenerationFinished failed refunds once: the same message redelivered, and the same outcome sent again, change nothing', async () => {
    const userId = await registeredUser();
    const jobId = randomUUID();
    expect(await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: jobId, purpose: 'song' }, as())).toEqual({ cost: 30, energy: 70 });
    const failed = { userId, jobId, purpose: 'song' as const, outcome: 'failed' as const, finishedAt: new Date().toISOString() };
    const messageId = randomUUID();
    await publish(GenerationFinishedV1, failed, messageId);
    await publish(GenerationFinishedV1, failed, messageId);
    await publish(GenerationFinishedV1, failed);
    await eventually(async () => (await balanceOf(userId)) === 100, { what: 'the refund' });
    // One consumer applies the stream in order: once this later event is applied, so are the three before it.
    const succeeded = randomUUID();
    await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: succeeded, purpose: 'text' }, as());
    await publish(GenerationFinishedV1, { ...failed, jobId: succeeded, purpose: 'text', outcome: 'succeeded' });
    await eventually(async () => (await dataSource.query<Array<{ state: string }>>('SELECT state FROM billing.reservations WHERE id = $1', [succeeded]))[0]?.state === 'committed', { what: 'the commit' });
    expect(await balanceOf(userId)).toBe(98);
    const entries = await dataSource.query<Array<{ reason: string; delta: number }>>('SELECT reason, delta FROM billing.ledger_entries WHERE user_id = $1 ORDER BY id', [userId]);
    expect(entries).toEqual([
      { reason: 'signup', delta: 100 },
      { reason: 'reservation', delta: -30 },
      { reason: 'refund', delta: 30 },
      { reason: 'reservation', delta: -2 },
    ]);
  });
});

describe('GenerationFinished settles only what its announcer reserved', () => {
  it("a failed generation of another purpose leaves a chat message's reservation held, and the chat outcome settles it", async () => {
    const userId = await registeredUser();
    const messageId = randomUUID();
    await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: messageId, purpose: 'chat' }, as());
    const spent = await balanceOf(userId);
    // Generation may announce a song's outcome, not a chat message's: under its id nothing is refunded.
    await publish(GenerationFinishedV1, { userId, jobId: messageId, purpose: 'song', outcome: 'failed', finishedAt: new Date().toISOString() });
    await publish(GenerationFinishedV1, { userId, jobId: messageId, purpose: 'chat', outcome: 'succeeded', finishedAt: new Date().toISOString() });
    await eventually(async () => (await dataSource.query<Array<{ state: string }>>('SELECT state FROM billing.reservations WHERE id = $1', [messageId]))[0]?.state === 'committed', { what: 'the chat commit' });
    expect(await balanceOf(userId)).toBe(spent);
    const refunds = await dataSource.query('SELECT 1 FROM billing.ledger_entries WHERE user_id = $1 AND reason = $2', [userId, 'refund']);
    expect(refunds).toEqual([]);
  });
});

describe('the local processor, end to end over HTTP (the Payments must-show)', () => {
  it('energy: order → checkout page → confirm → signed webhook through the gateway’s path → paid and credited; a second confirm is 409', async () => {
    const userId = await registeredUser();
    const created = await rpc.call(BillingRpc.CreateOrderRoute, { productId: 'energy-500' }, as(userId));
    expect(created.checkoutUrl).toBe(`${gateway.url}/v1/billing/checkout/${created.orderId}`);
    expect(await rpc.call(BillingRpc.GetCheckoutRoute, { orderId: created.orderId }, as())).toEqual({ orderId: created.orderId, productName: '500 energy', amount: 799, currency: 'EUR', status: 'pending' });
    const webhooksBefore = gateway.requests.length;
    expect(await rpc.call(BillingRpc.CompleteCheckoutRoute, { orderId: created.orderId, action: 'confirm' }, as())).toEqual({ orderId: created.orderId, status: 'paid' });
    const [webhook] = gateway.requests.slice(webhooksBefore);
    expect(webhook!.url).toBe('/v1/billing/webhooks/local');
    expect(webhook!.headers['processor-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(JSON.parse(webhook!.body)).toEqual({ id: expect.stringMatching(/^evt_local_/), type: 'payment.succeeded', orderId: created.orderId, transactionId: expect.stringMatching(/^txn_local_/), amount: 799, currency: 'EUR', occurredAt: expect.any(String) });
    expect(await balanceOf(userId)).toBe(600);
    await expect(rpc.call(BillingRpc.CompleteCheckoutRoute, { orderId: created.orderId, action: 'cancel' }, as())).rejects.toMatchObject({ status: 409, code: 'order_not_pending' });
    // The processor's notification replayed by someone who recorded it: 200, nothing more.
    const replay = await fetch(`${gateway.url}${webhook!.url}`, { method: 'POST', headers: { 'processor-signature': String(webhook!.headers['processor-signature']) }, body: webhook!.body });
    expect(replay.status).toBe(200);
    expect(await balanceOf(userId)).toBe(600);
    const { items } = await rpc.call(BillingRpc.ListTransactionsRoute, {}, as(userId));
    expect(items).toEqual([expect.objectContaining({ orderId: created.orderId, status: 'paid', paidAt: expect.any(String) })]);
  });

  it('Prime: confirm starts it (PrimeStatusChanged active on the stream); the shared clock moved past its end, the sweeper announces the end; a cancelled order stays cancelled', async () => {
    const userId = await registeredUser();
    const prime = await rpc.call(BillingRpc.CreateOrderRoute, { productId: 'prime-30' }, as(userId));
    expect((await rpc.call(BillingRpc.CompleteCheckoutRoute, { orderId: prime.orderId, action: 'confirm' }, as())).status).toBe('paid');
    await eventually(async () => (await streamEvents(PrimeStatusChangedV1)).some((event) => event.userId === userId && event.active), { what: 'PrimeStatusChanged active on the stream' });
    const cancelled = await rpc.call(BillingRpc.CreateOrderRoute, { productId: 'prime-365' }, as(userId));
    expect((await rpc.call(BillingRpc.CompleteCheckoutRoute, { orderId: cancelled.orderId, action: 'cancel' }, as())).status).toBe('cancelled');
    expect(await balanceOf(userId)).toBe(100);
    // As the e2e suite moves every service's clock: 31 days on.
    const moved = await nats.nc.request(clockControlSubject(namespace), JSON.stringify({ offsetMs: 31 * DAY_MS }));
    expect(moved.json<{ ok: boolean }>().ok).toBe(true);
    await eventually(async () => (await streamEvents(PrimeStatusChangedV1)).some((event) => event.userId === userId && !event.active), { what: 'PrimeStatusChanged ended on the stream' });
    const changes = (await streamEvents(PrimeStatusChangedV1)).filter((event) => event.userId === userId);
    expect(changes.map((event) => event.active)).toEqual([true, false]);
    expect(changes[1]!.expiresAt).toBe(changes[0]!.expiresAt);
  });

  it('card data through the gateway’s path: 422, in no table (every column) and in no line the service logged', async () => {
    const userId = await registeredUser();
    const { orderId } = await rpc.call(BillingRpc.CreateOrderRoute, { productId: 'energy-100' }, as(userId));
    const body = JSON.stringify({ id: 'evt_card', type: 'payment.succeeded', orderId, transactionId: 'txn_x', amount: 199, currency: 'EUR', occurredAt: new Date().toISOString(), card: { number: VISA, cvc: '123' } });
    const answer = await fetch(`${gateway.url}/v1/billing/webhooks/local`, { method: 'POST', body, headers: { 'processor-signature': 't=1,v1=00' } });
    expect(answer.status).toBe(422);
    expect(await answer.text()).not.toContain(VISA);
    const tables = await dataSource.query<Array<{ name: string }>>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'billing' AND table_type = 'BASE TABLE'");
    expect(tables.length).toBeGreaterThanOrEqual(10);
    for (const { name } of tables) expect(await dataSource.query(`SELECT 1 FROM billing."${name}" AS r WHERE strpos(r::text, $1) > 0`, [VISA]), name).toHaveLength(0);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(VISA);
    expect(lines.join('\n')).not.toContain('evt_card');
  });
});

describe('UserDeleted through the stream', () => {
  it('purges: no row with the user id in any billing table once the outbox is relayed (the tombstone excepted); PurgeCompleted on the stream', async () => {
    const userId = await registeredUser();
    const { orderId } = await rpc.call(BillingRpc.CreateOrderRoute, { productId: 'energy-100' }, as(userId));
    await rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: randomUUID(), purpose: 'chat' }, as());
    const erasureId = randomUUID();
    await publish(UserDeletedV1, { userId, erasureId, reason: 'user_request', deletedAt: new Date().toISOString() });
    await eventually(async () => (await streamEvents(PurgeCompletedV1)).some((event) => event.erasureId === erasureId), { what: 'PurgeCompleted on the stream' });
    const tables = await dataSource.query<Array<{ name: string }>>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'billing' AND table_type = 'BASE TABLE' AND table_name <> 'tombstones'");
    await eventually(
      async () => {
        for (const { name } of tables) if ((await dataSource.query<unknown[]>(`SELECT 1 FROM billing."${name}" AS r WHERE strpos(r::text, $1) > 0`, [userId])).length > 0) return false;
        return true;
      },
      { what: 'no row mentioning the user' },
    );
    const [record] = await dataSource.query<Array<{ status: string; unlinkedRef: string }>>('SELECT status, unlinked_ref AS "unlinkedRef" FROM billing.orders WHERE id = $1', [orderId]);
    expect(record).toEqual({ status: 'closed', unlinkedRef: expect.stringMatching(/^erased-/) });
    await expect(rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: randomUUID(), purpose: 'chat' }, as())).rejects.toMatchObject({ status: 401 });
  });
});

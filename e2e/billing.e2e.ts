import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BillingConsumers,
  CreateGeneration,
  CreateOrder,
  EVENTS_STREAM,
  GenerationFinishedV1,
  GetBalance,
  GetGeneration,
  GetMe,
  ListProducts,
  ListTransactions,
  PrimeStatusChangedV1,
  streamName,
  type BillingRpc,
  type GenerationRpc,
  type HttpRoute,
} from '@homiwork/contracts';
import { eventually, TEST_NATS_URL } from '@homiwork/testing';
import { startRecordingServer, type RecordingServer } from './support/contractor-server.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';
import { paymentEvent, postWebhook, signature, submitCheckout, type PaymentEvent } from './support/webhooks.js';

const PASSWORD = 'a long and uncommon passphrase';
const DAY = 24 * 3600 * 1000;
/** Pays for exactly 10 texts at 2 each. */
const GRANT = 20;
const TEXT_COST = 2;
const SECRET = randomBytes(32).toString('hex');
const PROVIDER = 'local';
/** Luhn-valid test card numbers (Visa test PANs): neither may be stored or logged anywhere. */
const PANS = ['4242424242424242', '4000056655665556'];

let system: TestSystem;
let failingContractor: RecordingServer;
let nc: NatsConnection | undefined;
let clockOffsetMs = 0;

beforeAll(async () => {
  // The AI provider for poems is down: every job of that kind fails at the contractor.
  failingContractor = await startRecordingServer(() => ({ status: 500, body: { error: 'provider down' } }));
  system = await startTestSystem({
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '10000',
      RATE_LIMIT_READ_PER_MINUTE: '100000',
      RATE_LIMIT_WRITE_PER_MINUTE: '10000',
      RATE_LIMIT_GENERATION_PER_MINUTE: '10000',
      ENERGY_SIGNUP_GRANT: String(GRANT),
      ENERGY_COSTS: `song=30,image=10,poem=2,text=${TEXT_COST},video=50,chat=1`,
      CONTRACTOR_ADAPTERS: 'poem=http',
      CONTRACTOR_URL: failingContractor.url,
      CONTRACTOR_API_KEY: 'e2e-contractor-key',
      CONTRACTOR_RETRIES: '1',
      PAYMENT_PROCESSOR: 'local',
      PAYMENT_WEBHOOK_SECRET: SECRET,
      PRIME_SWEEP_INTERVAL_MS: '200',
      // Debug lines too are searched for card numbers.
      LOG_LEVEL: 'debug',
    },
  });
}, 120_000);
afterAll(async () => {
  await nc?.close();
  await system?.stop();
  await failingContractor?.stop();
});

interface User {
  userId: string;
  email: string;
  token: string;
}

async function newUser(): Promise<User> {
  const tag = randomUUID().slice(0, 12);
  const email = `bill.${tag}@example.com`;
  const { user } = await system.api().accounts.register({ email, username: `bill_${tag}`, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
  const created = { userId: user.id, email, token: accessToken };
  // The grant comes through UserRegistered.
  await eventually(async () => (await balance(created)) === GRANT, { what: 'signup grant' });
  return created;
}

const as = (user: User) => system.api({ token: user.token });
const balance = async (user: User) => (await as(user).call(GetBalance)).energy;
const now = () => new Date(Date.now() + clockOffsetMs);

async function request(user: User, route: Pick<HttpRoute, 'method' | 'path' | 'auth'>, input: { body?: unknown; params?: Record<string, string> } = {}) {
  const answer = await as(user).raw(route, input);
  return { status: answer.status, body: answer.body as Record<string, unknown> & { error?: { code: string; message: string } } };
}

async function finished(user: User, id: string): Promise<GenerationRpc.Generation> {
  let last: GenerationRpc.Generation | undefined;
  await eventually(
    async () => {
      last = await as(user).call(GetGeneration, { params: { id } });
      return last.status === 'succeeded' || last.status === 'failed';
    },
    { what: `generation ${id} to finish`, timeoutMs: 60_000 },
  );
  return last!;
}

async function ledger(user: User): Promise<{ sum: number; entries: number; stored: number }> {
  const [row] = await system.sql<{ sum: number; entries: number }>('SELECT coalesce(sum(delta), 0)::int AS sum, count(*)::int AS entries FROM billing.ledger_entries WHERE user_id = $1', [user.userId]);
  const [stored] = await system.sql<{ energy: number }>('SELECT energy FROM billing.balances WHERE user_id = $1', [user.userId]);
  return { sum: row!.sum, entries: row!.entries, stored: stored!.energy };
}

async function product(user: User, kind: 'energy' | 'prime'): Promise<BillingRpc.Product> {
  const items = (await as(user).call(ListProducts)).items.filter((item) => item.kind === kind);
  expect(items.length, `a ${kind} product`).toBeGreaterThan(0);
  return items.sort((a, b) => a.amount - b.amount)[0]!;
}

async function order(user: User, kind: 'energy' | 'prime') {
  const item = await product(user, kind);
  const created = await as(user).call(CreateOrder, { body: { productId: item.id } });
  return { ...created, product: item };
}

async function transaction(user: User, orderId: string) {
  return (await as(user).call(ListTransactions)).items.find((item) => item.orderId === orderId);
}

/** Signs with the processor's secret at the system's (possibly moved) time unless told otherwise. */
async function deliver(event: PaymentEvent | Record<string, unknown>, options: { secret?: string; at?: Date; raw?: string } = {}) {
  const raw = options.raw ?? JSON.stringify(event);
  const t = Math.floor((options.at ?? now()).getTime() / 1000);
  return postWebhook(system.gateways[0]!, PROVIDER, raw, signature(options.secret ?? SECRET, raw, t));
}

/** Billing's GenerationFinished durable: how many deliveries it has acknowledged, and whether any wait. */
async function settlementConsumer(): Promise<{ acknowledged: number; idle: boolean }> {
  nc ??= await connect({ servers: TEST_NATS_URL });
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(streamName(system.namespace, EVENTS_STREAM), BillingConsumers.generationFinished.durableName);
  return { acknowledged: info.ack_floor.consumer_seq, idle: info.num_pending === 0 && info.num_ack_pending === 0 };
}

/** Waits until billing has taken every GenerationFinished in the stream, and at least `atLeast` deliveries in all. */
async function billingCaughtUp(atLeast = 0): Promise<void> {
  await eventually(
    async () => {
      const consumer = await settlementConsumer();
      return consumer.idle && consumer.acknowledged >= atLeast;
    },
    { what: 'billing’s GenerationFinished consumer idle' },
  );
}

/** Every stored event of every type, as text. */
async function allEventText(): Promise<string[]> {
  nc ??= await connect({ servers: TEST_NATS_URL });
  const jsm = await jetstreamManager(nc);
  const stream = streamName(system.namespace, EVENTS_STREAM);
  const { name } = await jsm.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 60_000_000_000 });
  const { num_pending: pending } = await jsm.consumers.info(stream, name);
  const texts: string[] = [];
  if (pending > 0) {
    const batch = await (await jetstream(nc).consumers.get(stream, name)).fetch({ max_messages: pending, expires: 5_000 });
    for await (const msg of batch) {
      texts.push(`${msg.subject}\n${[...(msg.headers ?? [])].map(([key, values]) => `${key}: ${values.join(',')}`).join('\n')}\n${msg.string()}`);
      if (texts.length === pending) break;
    }
  }
  await jsm.consumers.delete(stream, name);
  return texts;
}

const energyUsers: { spender?: User; refunded?: User } = {};

describe('energy: reserved before dispatch, never below zero, settled once (R4.4)', () => {
  it('charges exactly 10 of 50 concurrent generations on a balance that pays for 10 and refuses 40 with 402', async () => {
    const user = await newUser();
    energyUsers.spender = user;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => request(user, CreateGeneration, { body: { kind: 'text', prompt: `a short note number ${i}` } })));
    const accepted = answers.filter((answer) => answer.status === 202);
    const refused = answers.filter((answer) => answer.status === 402);
    expect(answers.filter((answer) => answer.status !== 202 && answer.status !== 402)).toEqual([]);
    expect(accepted).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const answer of refused) expect(answer.body.error?.code).toBe('insufficient_energy');
    for (const answer of accepted) expect(answer.body.cost).toBe(TEXT_COST);
    expect(await balance(user)).toBe(0);

    for (const answer of accepted) expect((await finished(user, String(answer.body.id))).status).toBe('succeeded');
    await billingCaughtUp();
    expect(await balance(user)).toBe(0);
    expect((await as(user).call(GetMe)).energy).toBe(0);
    // The balance is the ledger's sum, entry for entry.
    const book = await ledger(user);
    expect(book.sum).toBe(0);
    expect(book.stored).toBe(0);
    // A refused request leaves no job behind.
    const [jobs] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM generation.jobs WHERE user_id = $1', [user.userId]);
    expect(jobs!.n).toBe(10);
    const outcomes = (await system.events(GenerationFinishedV1)).filter((event) => event.userId === user.userId).map((event) => event.outcome);
    expect(outcomes).toEqual(Array.from({ length: 10 }, () => 'succeeded'));
  }, 120_000);

  it('refunds the reservation when the contractor fails', async () => {
    const user = await newUser();
    energyUsers.refunded = user;
    const calls = failingContractor.requests.length;
    const accepted = await request(user, CreateGeneration, { body: { kind: 'poem', prompt: 'a poem about the sea' } });
    expect(accepted.status).toBe(202);
    expect(await balance(user)).toBe(GRANT - 2);
    const job = await finished(user, String(accepted.body.id));
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBeTruthy();
    expect(JSON.stringify(job.error)).not.toContain(user.email);
    expect(failingContractor.requests.length).toBeGreaterThan(calls);
    await eventually(async () => (await balance(user)) === GRANT, { what: 'refund' });
    const book = await ledger(user);
    expect(book.sum).toBe(GRANT);
    expect(book.stored).toBe(GRANT);
  }, 60_000);

  it('changes nothing when GenerationFinished is delivered again (succeeded and failed)', async () => {
    const { spender, refunded } = energyUsers;
    expect(spender && refunded).toBeTruthy();
    const events = (await system.events(GenerationFinishedV1)).filter((event) => event.userId === spender!.userId || event.userId === refunded!.userId);
    const again = [events.find((event) => event.userId === spender!.userId && event.outcome === 'succeeded')!, events.find((event) => event.userId === refunded!.userId && event.outcome === 'failed')!];
    expect(again.every(Boolean)).toBe(true);
    const before = { spender: await ledger(spender!), refunded: await ledger(refunded!) };
    const reservations = async () => system.sql('SELECT id, state, amount FROM billing.reservations WHERE user_id IN ($1, $2) ORDER BY id', [spender!.userId, refunded!.userId]);
    const reservationsBefore = await reservations();
    await billingCaughtUp();
    const { acknowledged } = await settlementConsumer();
    // Published anew (a fresh message id, as a redelivery after a lost ack would carry), twice each.
    for (let round = 0; round < 2; round++) for (const event of again) await system.publish(GenerationFinishedV1, event);
    // Billing has really taken all four (acknowledged after its transaction), not merely not yet seen them.
    await billingCaughtUp(acknowledged + 4);
    expect({ spender: await ledger(spender!), refunded: await ledger(refunded!) }).toEqual(before);
    expect(await reservations()).toEqual(reservationsBefore);
    expect(await balance(spender!)).toBe(0);
    expect(await balance(refunded!)).toBe(GRANT);
  });
});

let primeBuyer: { user: User; days: number } | undefined;

describe('payments through the local processor (R6)', () => {
  it('buys an energy pack: checkout page, confirm, balance up by the pack, the transaction paid', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    expect(bought).toMatchObject({ amount: bought.product.amount, currency: bought.product.currency });
    expect(bought.checkoutUrl).toBe(`${system.gateways[0]}/v1/billing/checkout/${bought.orderId}`);
    expect(await transaction(user, bought.orderId)).toMatchObject({ status: 'pending', paidAt: null, amount: bought.product.amount });

    const page = await fetch(bought.checkoutUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<form[^>]*method="post"/i);
    expect(html).toContain('confirm');
    expect(html).toContain('cancel');

    const confirmed = await submitCheckout(bought.checkoutUrl, 'confirm');
    expect(confirmed.status).toBe(200);
    expect(confirmed.type).toMatch(/^text\/html/);
    await eventually(async () => (await balance(user)) === GRANT + bought.product.energy!, { what: 'the pack credited' });
    const paid = await transaction(user, bought.orderId);
    expect(paid).toMatchObject({ status: 'paid', productId: bought.product.id, kind: 'energy' });
    expect(paid!.paidAt).not.toBeNull();

    // The page cannot pay twice.
    expect((await submitCheckout(bought.checkoutUrl, 'confirm')).status).toBe(409);
    await sleep(500);
    expect(await balance(user)).toBe(GRANT + bought.product.energy!);
    const book = await ledger(user);
    expect(book.sum).toBe(GRANT + bought.product.energy!);
  });

  it('buys Prime: /v1/me shows it active until the end of the period, announced by PrimeStatusChanged', async () => {
    const user = await newUser();
    const bought = await order(user, 'prime');
    const started = now().getTime();
    expect((await submitCheckout(bought.checkoutUrl, 'confirm')).status).toBe(200);
    await eventually(async () => (await as(user).call(GetMe)).prime.active, { what: 'Prime on /v1/me' });
    const me = await as(user).call(GetMe);
    const end = new Date(me.prime.expiresAt!).getTime();
    expect(Math.abs(end - (started + bought.product.primeDays! * DAY))).toBeLessThan(60_000);
    const announced = (await system.events(PrimeStatusChangedV1)).filter((event) => event.userId === user.userId);
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatchObject({ active: true });
    expect(new Date(announced[0]!.expiresAt!).getTime()).toBe(end);
    expect(await transaction(user, bought.orderId)).toMatchObject({ status: 'paid', kind: 'prime' });
    expect(await balance(user)).toBe(GRANT);
    primeBuyer = { user, days: bought.product.primeDays! };
  });

  it('ordering the same product again while its order is open answers that order and checkout; once it ended, a new one', async () => {
    const user = await newUser();
    const first = await order(user, 'energy');
    const again = await order(user, 'energy');
    expect(again).toEqual(first);
    const open = await system.sql<{ n: number }>("SELECT count(*)::int AS n FROM billing.orders WHERE user_id = $1 AND status = 'pending'", [user.userId]);
    expect(open[0]!.n).toBe(1);
    expect((await submitCheckout(first.checkoutUrl, 'cancel')).status).toBe(200);
    await eventually(async () => (await transaction(user, first.orderId))?.status === 'cancelled', { what: 'order cancelled' });
    const next = await order(user, 'energy');
    expect(next.orderId).not.toBe(first.orderId);
    expect((await as(user).call(ListTransactions)).items.map((item) => item.status).sort()).toEqual(['cancelled', 'pending']);
  });

  it('a cancelled checkout takes and gives nothing', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    expect((await submitCheckout(bought.checkoutUrl, 'cancel')).status).toBe(200);
    await eventually(async () => (await transaction(user, bought.orderId))?.status === 'cancelled', { what: 'order cancelled' });
    expect((await submitCheckout(bought.checkoutUrl, 'confirm')).status).toBe(409);
    await sleep(500);
    expect(await balance(user)).toBe(GRANT);
    expect((await transaction(user, bought.orderId))?.paidAt).toBeNull();
  });
});

describe('the signed webhook (R6)', () => {
  it('refuses a wrong secret, a tampered body, a missing or malformed signature with 401, changing nothing', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    const event = paymentEvent(bought, 'payment.succeeded', now());
    const raw = JSON.stringify(event);
    const t = Math.floor(now().getTime() / 1000);
    const attempts = [
      await deliver(event, { secret: randomBytes(32).toString('hex') }),
      // Signed, then the amount changed.
      await postWebhook(system.gateways[0]!, PROVIDER, raw.replace(`"amount":${bought.amount}`, `"amount":${bought.amount + 1}`), signature(SECRET, raw, t)),
      await postWebhook(system.gateways[0]!, PROVIDER, raw, undefined),
      await postWebhook(system.gateways[0]!, PROVIDER, raw, 'nonsense'),
      await postWebhook(system.gateways[0]!, PROVIDER, raw, `t=${t},v1=${'0'.repeat(64)}`),
    ];
    for (const answer of attempts) {
      expect(answer.status, answer.text).toBe(401);
      expect(answer.body?.error?.code).toBe('invalid_signature');
    }
    await sleep(300);
    expect(await balance(user)).toBe(GRANT);
    expect((await transaction(user, bought.orderId))?.status).toBe('pending');
    // The same event, properly signed, is then taken: nothing above had consumed its id.
    expect((await deliver(event)).status).toBe(200);
    await eventually(async () => (await balance(user)) === GRANT + bought.product.energy!, { what: 'credited' });
  });

  it('refuses a timestamp more than 300 s away (either side) with 401 and takes one within the window', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    const event = paymentEvent(bought, 'payment.succeeded', now());
    for (const skew of [-301_000, 301_000, -3_600_000]) {
      const answer = await deliver(event, { at: new Date(now().getTime() + skew) });
      expect(answer.status, `skew ${skew}`).toBe(401);
      expect(answer.body?.error?.code).toBe('invalid_signature');
    }
    expect(await balance(user)).toBe(GRANT);
    expect((await deliver(event, { at: new Date(now().getTime() - 240_000) })).status).toBe(200);
    await eventually(async () => (await balance(user)) === GRANT + bought.product.energy!, { what: 'credited' });
  });

  it('credits once when the same event is replayed', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    const event = paymentEvent(bought, 'payment.succeeded', now());
    const raw = JSON.stringify(event);
    const header = signature(SECRET, raw, Math.floor(now().getTime() / 1000));
    expect((await postWebhook(system.gateways[0]!, PROVIDER, raw, header)).status).toBe(200);
    // The identical request again, and the same event signed anew.
    expect((await postWebhook(system.gateways[0]!, PROVIDER, raw, header)).status).toBe(200);
    expect((await deliver(event)).status).toBe(200);
    await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
    await sleep(500);
    expect(await balance(user)).toBe(GRANT + bought.product.energy!);
    expect((await ledger(user)).entries).toBe(2);
    const [row] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM billing.webhook_events WHERE event_id = $1', [event.id]);
    expect(row!.n).toBe(1);
  });

  it('tolerates any order of arrival: cancel then success pays once; success twice pays once; success then cancel stays paid', async () => {
    const user = await newUser();
    const pack = await product(user, 'energy');
    const first = await order(user, 'energy');
    expect((await deliver(paymentEvent(first, 'payment.cancelled', now()))).status).toBe(200);
    await eventually(async () => (await transaction(user, first.orderId))?.status === 'cancelled', { what: 'cancelled' });
    expect((await deliver(paymentEvent(first, 'payment.succeeded', now()))).status).toBe(200);
    expect((await deliver(paymentEvent(first, 'payment.succeeded', now()))).status).toBe(200);
    await eventually(async () => (await transaction(user, first.orderId))?.status === 'paid', { what: 'paid after the late success' });

    const second = await order(user, 'energy');
    expect((await deliver(paymentEvent(second, 'payment.succeeded', now()))).status).toBe(200);
    expect((await deliver(paymentEvent(second, 'payment.cancelled', now()))).status).toBe(200);
    expect((await deliver(paymentEvent(second, 'payment.failed', now()))).status).toBe(200);
    await sleep(500);
    expect((await transaction(user, second.orderId))?.status).toBe('paid');
    expect(await balance(user)).toBe(GRANT + 2 * pack.energy!);
    expect((await ledger(user)).sum).toBe(GRANT + 2 * pack.energy!);
  });

  it('refuses a success whose amount or currency differs from the order with 400, crediting nothing', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    for (const overrides of [{ amount: bought.amount - 1 }, { currency: bought.currency === 'USD' ? 'EUR' : 'USD' }]) {
      const answer = await deliver(paymentEvent(bought, 'payment.succeeded', now(), overrides));
      expect(answer.status).toBe(400);
      expect(answer.body?.error?.code).toBe('invalid_webhook');
    }
    await sleep(300);
    expect(await balance(user)).toBe(GRANT);
    expect((await transaction(user, bought.orderId))?.status).toBe('pending');
  });

  it('answers 404 for a provider it does not know', async () => {
    const event = paymentEvent({ orderId: randomUUID(), amount: 100, currency: 'EUR' }, 'payment.succeeded', now());
    const raw = JSON.stringify(event);
    expect((await postWebhook(system.gateways[0]!, 'stripe-ish', raw, signature(SECRET, raw, Math.floor(now().getTime() / 1000)))).status).toBe(404);
  });

  it('refuses card data with 422, before the signature is even checked, and keeps the number in no table, log line or event', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    const base = paymentEvent(bought, 'payment.succeeded', now());
    const bodies: Array<[string, Record<string, unknown>, 'signed' | 'unsigned']> = [
      ['a card number in a nested field', { ...base, card: { number: PANS[0] } }, 'signed'],
      ['a spaced card number in free text, badly signed', { ...base, description: `paid with ${PANS[0]!.replace(/(\d{4})/g, '$1 ').trim()}` }, 'unsigned'],
      ['a dashed card number as the transaction id', { ...base, transactionId: PANS[1]!.replace(/(\d{4})(?=\d)/g, '$1-') }, 'signed'],
      ['a card number as a JSON number', { ...base, pan: Number(PANS[1]) }, 'signed'],
      ['a CVV and an expiry', { ...base, cvv: '123', exp_month: 12, exp_year: 2030 }, 'signed'],
      // What the security review got through before.
      ['a card number glued to the event id', { ...base, id: `evt${PANS[0]}` }, 'signed'],
      ['a card number glued to the transaction id', { ...base, transactionId: `txn${PANS[1]}` }, 'signed'],
      ['a card number with dots', { ...base, note: PANS[0]!.replace(/(\d{4})(?=\d)/g, '$1.') }, 'signed'],
      ['a card number with underscores', { ...base, note: PANS[1]!.replace(/(\d{4})(?=\d)/g, '$1_') }, 'signed'],
      ['a card number with slashes', { ...base, note: PANS[0]!.replace(/(\d{4})(?=\d)/g, '$1/') }, 'signed'],
      ['a card number with no-break spaces', { ...base, note: PANS[1]!.replace(/(\d{4})(?=\d)/g, '$1\u00a0') }, 'signed'],
      ['a card number with tabs', { ...base, note: PANS[0]!.replace(/(\d{4})(?=\d)/g, '$1\t') }, 'signed'],
      ['a card number in full-width digits', { ...base, note: [...PANS[1]!].map((digit) => String.fromCharCode(0xff10 + Number(digit))).join('') }, 'signed'],
      ['cvv_code and exp', { ...base, exp: '12/27', cvv_code: '123' }, 'signed'],
      ['exp and code under card', { ...base, card: { exp: '12/27', code: '123' } }, 'signed'],
      ['card_exp, expiry_mm, security-code', { ...base, card_exp: '12/27', expiry_mm: 12, 'security-code': 1 }, 'signed'],
    ];
    for (const [what, body, signing] of bodies) {
      const answer = signing === 'signed' ? await deliver(body) : await postWebhook(system.gateways[0]!, PROVIDER, JSON.stringify(body), 'nonsense');
      expect(answer.status, what).toBe(422);
      expect(answer.body?.error?.code, what).toBe('card_data_refused');
      for (const pan of PANS) expect(answer.text.replace(/\D/g, ''), what).not.toContain(pan);
    }
    expect(await balance(user)).toBe(GRANT);
    expect((await transaction(user, bought.orderId))?.status).toBe('pending');
    const [seen] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM billing.webhook_events WHERE event_id = $1', [base.id]);
    expect(seen!.n).toBe(0);

    // Every row of every table of every schema, every column as text, as written and as its
    // digits alone (any separator, full-width digits, JSON escapes of no-break spaces and tabs).
    const digitsOf = (text: string) => text.normalize('NFKC').replace(/\\u[0-9a-fA-F]{4}|\\t/g, '').replace(/[^0-9]/g, '');
    const tables = await system.sql<{ s: string; t: string }>("SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')");
    expect(tables.map(({ s }) => s)).toContain('billing');
    for (const { s, t } of tables) {
      for (const { row } of await system.sql<{ row: string }>(`SELECT row_to_json(x)::text AS row FROM "${s}"."${t}" x`)) {
        for (const pan of PANS) {
          expect(row, `${s}.${t}`).not.toContain(pan);
          expect(digitsOf(row), `${s}.${t}`).not.toContain(pan);
        }
      }
    }
    // Log lines are written asynchronously: give them a moment to arrive before looking.
    await sleep(1_000);
    expect(system.logs.length).toBeGreaterThan(0);
    for (const line of system.logs) for (const pan of PANS) expect(digitsOf(line)).not.toContain(pan);
    for (const text of await allEventText()) for (const pan of PANS) expect(digitsOf(text)).not.toContain(pan);
  });
});

// Last: moves the clock.
describe('Prime ends on the shared clock (R6, §5.4)', () => {
  it('ends Prime once its period is over and announces it', async () => {
    expect(primeBuyer).toBeDefined();
    const { user, days } = primeBuyer!;
    clockOffsetMs += days * DAY + DAY;
    await system.setClockOffset(clockOffsetMs);
    user.token = (await system.api().accounts.login({ login: user.email, password: PASSWORD })).accessToken;
    await eventually(async () => !(await as(user).call(GetMe)).prime.active, { what: 'Prime ended on /v1/me', timeoutMs: 20_000 });
    const announced = (await system.events(PrimeStatusChangedV1)).filter((event) => event.userId === user.userId);
    expect(announced.map((event) => event.active)).toEqual([true, false]);
  });

  it('checks the webhook window on the shared clock too', async () => {
    const user = await newUser();
    const bought = await order(user, 'energy');
    const event = paymentEvent(bought, 'payment.succeeded', now());
    expect((await deliver(event, { at: new Date() })).status).toBe(401);
    expect((await deliver(event)).status).toBe(200);
    await eventually(async () => (await balance(user)) === GRANT + bought.product.energy!, { what: 'credited' });
  });
});

import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '@homiwork/api-client';
import {
  CreateGeneration,
  CreateOrder,
  DEAD_LETTER_STREAM,
  DeleteMe,
  eventsRootSubject,
  eventPublisherOf,
  EVENTS_STREAM,
  GetBalance,
  GetGeneration,
  GetMe,
  ListAssistants,
  ListProducts,
  LogIn,
  Register,
  SendMessage,
  streamName,
  type HttpRoute,
} from '@homiwork/contracts';
import { declaredConsumers } from '@homiwork/messaging';
import { erasureServices, SERVICE_MANIFEST } from '@homiwork/system-runner';
import { startClusterSystem, type ClusterSystem } from './support/cluster-system.js';
import { completedErasure, objectsUnder, tablesMentioning } from './support/privacy.js';
import { submitCheckout } from './support/webhooks.js';

// Issue 12, "proof that the design scales out": a three-member JetStream cluster with the
// streams at three replicas, two instances of every service, a mixed workload from several
// clients at once, and mid-flow the leader of the events stream and the second instance of
// every service are killed (SIGKILL). Then every effect must have happened exactly once.

const PASSWORD = 'a long and uncommon passphrase';
const GRANT = 20;
const COSTS = { text: 2, poem: 3, chat: 1 } as const;
/** Concurrent clients; each runs USERS_PER_CLIENT accounts one after the other. */
const CLIENTS = 6;
const USERS_PER_CLIENT = 3;

let system: ClusterSystem;
const startedAt = performance.now();
const timings: Record<string, number> = {};

beforeAll(async () => {
  system = await startClusterSystem({
    copies: 2,
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '100000',
      RATE_LIMIT_READ_PER_MINUTE: '100000',
      RATE_LIMIT_WRITE_PER_MINUTE: '100000',
      RATE_LIMIT_GENERATION_PER_MINUTE: '100000',
      ENERGY_SIGNUP_GRANT: String(GRANT),
      ENERGY_COSTS: `song=30,image=10,poem=${COSTS.poem},text=${COSTS.text},video=50,chat=${COSTS.chat}`,
      // A job whose instance was killed is taken over once its lease lapses; one that never
      // got its reservation is failed by the sweep.
      GENERATION_LEASE_MS: '3000',
      GENERATION_POLL_INTERVAL_MS: '250',
      GENERATION_UNRESERVED_AFTER_MS: '15000',
      CONTENT_SWEEP_INTERVAL_MS: '1000',
      // A chat send that died between reserving and settling is refunded by the sweep (60 s is its floor).
      CHAT_SETTLE_AFTER_MS: '60000',
      CHAT_SETTLE_SWEEP_INTERVAL_MS: '1000',
      RETENTION_TICK_MS: '250',
      // A request whose instance died answers 504 after this.
      RPC_TIMEOUT_MS: '5000',
    },
  });
  timings.startup = performance.now() - startedAt;
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

/** What the client knows of one request: its answer, or that the answer was lost with the instance that held it. */
type Outcome = { status: number; body: unknown } | { status: 'unknown'; error: string };

/** The run's milestones: the faults wait for the first, the report lists them all. */
let usersWithGrant = 0;
let killSignal: () => void = () => undefined;
const killTime = new Promise<void>((resolve) => (killSignal = resolve));
const timeline: string[] = [];
let workloadStartedAt = 0;
let workloadDone = false;
let faultsMidFlow = false;
const at = () => `${((performance.now() - workloadStartedAt) / 1000).toFixed(1)} s`;

const counts = { requests: 0, refusedConnections: 0, rateLimited: 0, retries: 0, unknown: 0 };
let nextGateway = 0;
/** The longest any one request (with its retries) or wait took, by route or step, in ms. */
const slowest: Record<string, number> = {};
const noteDuration = (what: string, since: number) => void (slowest[what] = Math.max(slowest[what] ?? 0, Math.round(performance.now() - since)));

/**
 * Sends one request through the gateways, round-robin. A refused connection never reached a
 * gateway, so any request moves on to the other one. A request whose answer was lost (the
 * connection cut, or a 502/503/504 from a gateway whose downstream instance died) is sent
 * again only when `idempotent`: reads, logins, registration (the same e-mail twice makes one
 * account: the repeat answers 409) and account deletion (one erasure per account, however
 * often asked). Every other write reports `unknown`, and the checks reconcile it with what
 * the system stored. A 429 is a refusal before any handler ran (the gateway's rate-limit
 * guard, which fails closed while its shared counters' NATS bucket is electing a leader),
 * so it is sent again whatever it was.
 */
async function send(idempotent: boolean, what: string, attempt: (baseUrl: string) => Promise<{ status: number; body: unknown }>): Promise<Outcome> {
  counts.requests++;
  const started = performance.now();
  try {
    return await sendWithRetries(idempotent, what, attempt);
  } finally {
    noteDuration(what, started);
  }
}

async function sendWithRetries(idempotent: boolean, what: string, attempt: (baseUrl: string) => Promise<{ status: number; body: unknown }>): Promise<Outcome> {
  const deadline = Date.now() + 60_000;
  let lastError = '';
  while (Date.now() < deadline) {
    const baseUrl = system.gateways[nextGateway++ % system.gateways.length]!;
    try {
      const answer = await attempt(baseUrl);
      if (answer.status === 429) counts.rateLimited++;
      else if (![502, 503, 504].includes(answer.status)) return answer;
      lastError = `answered ${answer.status}`;
      if (answer.status !== 429 && !idempotent) return unknownOutcome(what, lastError);
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      lastError = code ?? String(error);
      if (code === 'ECONNREFUSED') counts.refusedConnections++;
      else if (!idempotent) return unknownOutcome(what, lastError);
    }
    counts.retries++;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no gateway answered within 60 s (${lastError})`);
}

function unknownOutcome(what: string, error: string): Outcome {
  counts.unknown++;
  timeline.push(`${at()}: answer lost for ${what} (${error})`);
  return { status: 'unknown', error };
}

const call = (idempotent: boolean, route: Pick<HttpRoute, 'method' | 'path' | 'auth'>, input: { token?: string; body?: unknown; params?: Record<string, string> } = {}) =>
  send(idempotent, `${route.method} ${route.path}`, async (baseUrl) => {
    const answer = await new ApiClient({ baseUrl, ...(input.token ? { accessToken: input.token } : {}) }).raw(route, { ...(input.body !== undefined ? { body: input.body } : {}), ...(input.params ? { params: input.params } : {}) });
    return { status: answer.status, body: answer.body };
  });

const ok = (outcome: Outcome, status: number): outcome is { status: number; body: Record<string, unknown> } => outcome.status === status;

interface UserRecord {
  userId: string;
  email: string;
  token: string;
  /** Jobs the API accepted (202), with their kinds. */
  jobs: Array<{ id: string; kind: 'text' | 'poem' }>;
  /** Chat messages the API answered 201. */
  chats: number;
  /** Energy of the orders whose checkout confirmed. */
  purchased: Array<{ orderId: string; energy: number }>;
  uploads: string[];
  /** Writes whose answer was lost: this user's totals are taken from what the system stored. */
  unknownWrites: number;
  erasureId?: string;
}

const users: UserRecord[] = [];


/** Polls at a pace 14 services on 2 cores can bear (a read through the whole path each time). */
async function until(check: () => Promise<boolean>, options: { what: string; timeoutMs?: number; step?: string }): Promise<void> {
  const started = performance.now();
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (await check()) {
      if (options.step) noteDuration(options.step, started);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${options.what}`);
}

async function pngOf(seed: number): Promise<Buffer> {
  return sharp({ create: { width: 48, height: 48, channels: 3, background: { r: (seed * 53) % 256, g: (seed * 97) % 256, b: (seed * 193) % 256 } } })
    .png()
    .toBuffer();
}

async function oneUser(client: number, round: number): Promise<void> {
  const tag = randomUUID().slice(0, 10);
  const email = `scale.${tag}@example.com`;
  const registered = await call(true, Register, { body: { email, username: `scale_${tag}`, password: PASSWORD, ageConfirmed: true } });
  if (!ok(registered, 201) && !ok(registered, 409)) throw new Error(`register answered ${JSON.stringify(registered)}`);
  const login = await call(true, LogIn, { body: { login: email, password: PASSWORD } });
  if (!ok(login, 200)) throw new Error(`login answered ${JSON.stringify(login)}`);
  const token = login.body.accessToken as string;
  const me = await call(true, GetMe, { token });
  if (!ok(me, 200)) throw new Error(`GET /v1/me answered ${JSON.stringify(me)}`);
  const user: UserRecord = { userId: (me.body as { id: string }).id, email, token, jobs: [], chats: 0, purchased: [], uploads: [], unknownWrites: 0 };
  users.push(user);
  // The grant arrives through UserRegistered: a charge before it would be refused.
  await until(async () => {
    const balance = await call(true, GetBalance, { token });
    return ok(balance, 200) && (balance.body.energy as number) >= GRANT;
  }, { what: 'the signup grant', timeoutMs: 60_000, step: 'wait: signup grant' });
  if (++usersWithGrant === CLIENTS) killSignal();
  const products = await call(true, ListProducts, { token });
  const assistants = await call(true, ListAssistants, { token });
  if (!ok(products, 200) || !ok(assistants, 200)) throw new Error(`the catalogues answered ${JSON.stringify([products, assistants])}`);
  const energyProduct = (products.body.items as Array<{ id: string; kind: string; amount: number; energy?: number }>).filter((item) => item.kind === 'energy').sort((a, b) => a.amount - b.amount)[0]!;
  const assistantId = (assistants.body.items as Array<{ id: string }>)[0]!.id;

  const image = await pngOf(client * 10 + round);
  const upload = await send(false, 'POST /v1/uploads', async (baseUrl) => {
    const form = new FormData();
    form.append('file', new Blob([image], { type: 'image/png' }), 'picture.png');
    const response = await fetch(`${baseUrl}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    return { status: response.status, body: await response.json().catch(() => undefined) };
  });
  if (ok(upload, 201)) user.uploads.push(upload.body.id as string);
  else if (upload.status === 'unknown') user.unknownWrites++;
  else throw new Error(`upload answered ${JSON.stringify(upload)}`);

  for (const kind of ['text', 'poem', 'text'] as const) {
    const created = await call(false, CreateGeneration, { token, body: { kind, prompt: `a short piece about harbours number ${round}` } });
    if (ok(created, 202)) user.jobs.push({ id: created.body.id as string, kind });
    else if (created.status === 'unknown') user.unknownWrites++;
    else throw new Error(`generation answered ${JSON.stringify(created)}`);
  }
  for (const text of ['hello there', 'write me a line about rain']) {
    const sent = await call(false, SendMessage, { token, params: { assistantId }, body: { text } });
    if (ok(sent, 201)) user.chats++;
    else if (sent.status === 'unknown') user.unknownWrites++;
    else throw new Error(`chat answered ${JSON.stringify(sent)}`);
  }
  const order = await call(false, CreateOrder, { token, body: { productId: energyProduct.id } });
  if (ok(order, 201)) {
    const checkoutUrl = new URL(order.body.checkoutUrl as string);
    // The checkout page is served by the gateways too: its path on whichever answers.
    const confirmed = await send(false, 'POST /v1/billing/checkout/:orderId', async (baseUrl) => {
      const answer = await submitCheckout(`${baseUrl}${checkoutUrl.pathname}${checkoutUrl.search}`, 'confirm');
      return { status: answer.status, body: undefined };
    });
    if (ok(confirmed, 200)) user.purchased.push({ orderId: order.body.orderId as string, energy: energyProduct.energy! });
    else if (confirmed.status === 'unknown') user.unknownWrites++;
    else throw new Error(`checkout answered ${JSON.stringify(confirmed)}`);
  } else if (order.status === 'unknown') user.unknownWrites++;
  else throw new Error(`order answered ${JSON.stringify(order)}`);

  // Every accepted job finishes, whatever instance ran it (reads: retried).
  for (const job of user.jobs) {
    await until(async () => {
      const answer = await call(true, GetGeneration, { token, params: { id: job.id } });
      return ok(answer, 200) && ['succeeded', 'failed'].includes(answer.body.status as string);
    }, { what: `generation ${job.id}`, timeoutMs: 90_000, step: 'wait: generation finished' });
  }
  // Half the accounts are deleted at the end of their run.
  if ((client + round) % 2 === 1) {
    const deleted = await call(true, DeleteMe, { token, body: { password: PASSWORD } });
    if (!ok(deleted, 202)) throw new Error(`DELETE /v1/me answered ${JSON.stringify(deleted)}`);
    user.erasureId = deleted.body.erasureId as string;
  }
}

describe('scale-out: a 3-member NATS cluster and two instances of every service, with faults (issue 12)', () => {
  it('runs a mixed workload through a node kill and an instance kill of every service, and every effect happens exactly once', async () => {
    workloadStartedAt = performance.now();

    // The faults, once every client has an account with its grant (the workload is in full flow).
    const faults = (async () => {
      await killTime;
      const jsm = await system.jsm();
      const leader = (await jsm.streams.info(streamName(system.namespace, EVENTS_STREAM))).cluster?.leader;
      const index = Math.max(0, system.nodes.findIndex((node) => node.name === leader));
      system.killNatsNode(index);
      timeline.push(`${at()}: SIGKILL nats-server ${system.nodes[index]!.name} (leader of the events stream)`);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // The second instance of each: the first's address is the one the others were given
      // (PUBLIC_API_URL, MEDIA_INTERNAL_URL), which a Kubernetes Service would front.
      for (const entry of SERVICE_MANIFEST) {
        const instance = `${entry.name}1`;
        process.kill(system.pidOf(instance), 'SIGKILL');
        timeline.push(`${at()}: SIGKILL ${instance}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      faultsMidFlow = !workloadDone;
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      await system.restartNatsNode(index);
      timeline.push(`${at()}: nats-server ${system.nodes[index]!.name} started again`);
    })();

    try {
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          for (let round = 0; round < USERS_PER_CLIENT; round++) await oneUser(client, round);
        }),
      );
      workloadDone = true;
    } finally {
      // A workload that failed early must not leave the faults waiting.
      killSignal();
      await faults;
    }
    expect(timeline.filter((event) => /SIGKILL|started again/.test(event)).length, 'the faults happened').toBe(SERVICE_MANIFEST.length + 2);
    expect(faultsMidFlow, 'the faults came while the clients were still at work').toBe(true);
    timings.workload = performance.now() - workloadStartedAt;
    const checksStartedAt = performance.now();

    // Every erasure completes, with a receipt from every service that holds user data.
    const expectedServices = erasureServices().split(',').sort();
    for (const user of users.filter((candidate) => candidate.erasureId)) {
      const erasure = await completedErasure(system, user.erasureId!, 90_000);
      expect(erasure.receipts.map((receipt) => receipt.service).sort(), `erasure ${user.erasureId}`).toEqual(expectedServices);
      expect([...erasure.expectedServices].sort()).toEqual(expectedServices);
    }

    // Settling: no job left running, no reservation held, no chat message unsettled, every outbox drained.
    await until(
      async () => {
        const [open] = await system.sql<{ jobs: number; held: number; unsettled: number }>(
          `SELECT (SELECT count(*)::int FROM generation.jobs WHERE status IN ('queued', 'running')) AS jobs,
                  (SELECT count(*)::int FROM billing.reservations WHERE state = 'held') AS held,
                  (SELECT count(*)::int FROM chat.messages WHERE role = 'user' AND settled_at IS NULL) AS unsettled`,
        );
        return open!.jobs === 0 && open!.held === 0 && open!.unsettled === 0;
      },
      { what: 'every job finished and every reservation settled', timeoutMs: 120_000 },
    );
    const schemas = SERVICE_MANIFEST.filter((entry) => entry.name !== 'gateway').map((entry) => entry.name);
    await until(
      async () => {
        for (const schema of schemas) {
          const [row] = await system.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
          if (row!.n > 0) return false;
        }
        return true;
      },
      { what: 'every outbox drained', timeoutMs: 30_000 },
    );

    // Energy, for every account still there: balance = ledger sum = grant + purchases − commitments, each once.
    const live = users.filter((user) => !user.erasureId);
    let exactTotals = 0;
    for (const user of live) {
      const [ledger] = await system.sql<{ sum: number; signups: number }>(
        "SELECT coalesce(sum(delta), 0)::int AS sum, count(*) FILTER (WHERE reason = 'signup')::int AS signups FROM billing.ledger_entries WHERE user_id = $1",
        [user.userId],
      );
      const [balance] = await system.sql<{ energy: number }>('SELECT energy FROM billing.balances WHERE user_id = $1', [user.userId]);
      expect(balance!.energy, 'balance = ledger').toBe(ledger!.sum);
      expect(ledger!.signups, 'one signup grant').toBe(1);
      // Every reservation: one debit; refunded ones one refund of the same amount; committed ones none.
      const reservations = await system.sql<{ id: string; state: string; amount: number; debits: number; refunds: number; refunded: number }>(
        `SELECT r.id, r.state, r.amount,
                count(l.*) FILTER (WHERE l.reason = 'reservation')::int AS debits,
                count(l.*) FILTER (WHERE l.reason = 'refund')::int AS refunds,
                coalesce(sum(l.delta) FILTER (WHERE l.reason = 'refund'), 0)::int AS refunded
           FROM billing.reservations r LEFT JOIN billing.ledger_entries l ON l.reservation_id = r.id
          WHERE r.user_id = $1 GROUP BY r.id`,
        [user.userId],
      );
      for (const reservation of reservations) {
        if (reservation.state === 'void') continue;
        expect(reservation.debits, `reservation ${reservation.id} debited once`).toBe(1);
        expect(reservation.refunds, `reservation ${reservation.id} refunds (${reservation.state})`).toBe(reservation.state === 'refunded' ? 1 : 0);
        if (reservation.state === 'refunded') expect(reservation.refunded).toBe(reservation.amount);
      }
      // Every paid order credited exactly once, with the product's energy.
      const orders = await system.sql<{ id: string; status: string; energy: number; credits: number; credited: number }>(
        `SELECT o.id, o.status, o.energy, count(l.*)::int AS credits, coalesce(sum(l.delta), 0)::int AS credited
           FROM billing.orders o LEFT JOIN billing.ledger_entries l ON l.order_id = o.id WHERE o.user_id = $1 GROUP BY o.id`,
        [user.userId],
      );
      for (const order of orders) expect({ order: order.id, credits: order.credits, credited: order.credited }).toEqual({ order: order.id, credits: order.status === 'paid' ? 1 : 0, credited: order.status === 'paid' ? order.energy : 0 });
      for (const purchase of user.purchased) expect(orders.find((order) => order.id === purchase.orderId)?.status, `order ${purchase.orderId}`).toBe('paid');

      // Every job: finished, its reservation settled to match (committed ↔ succeeded), content only when it succeeded.
      const jobs = await system.sql<{ id: string; kind: string; status: string; cost: number | null; contents: number; reservation: string | null; amount: number | null }>(
        `SELECT j.id, j.kind, j.status, j.cost, (SELECT count(*)::int FROM generation.contents c WHERE c.job_id = j.id) AS contents, r.state AS reservation, r.amount
           FROM generation.jobs j LEFT JOIN billing.reservations r ON r.id = j.id WHERE j.user_id = $1`,
        [user.userId],
      );
      for (const job of user.jobs) expect(jobs.some((stored) => stored.id === job.id), `accepted job ${job.id} stored`).toBe(true);
      for (const job of jobs) {
        expect(job.contents, `job ${job.id} (${job.status}) contents`).toBe(job.status === 'succeeded' ? 1 : 0);
        if (job.status === 'succeeded') expect(job.reservation, `job ${job.id} reservation`).toBe('committed');
        else expect([null, 'refunded', 'void'], `job ${job.id} reservation`).toContain(job.reservation);
      }
      const [chat] = await system.sql<{ committed: number }>(
        `SELECT coalesce(sum(r.amount), 0)::int AS committed FROM chat.messages m JOIN billing.reservations r ON r.id = m.id
          WHERE m.user_id = $1 AND m.role = 'user' AND r.state = 'committed'`,
        [user.userId],
      );
      const committedJobs = jobs.filter((job) => job.reservation === 'committed').reduce((sum, job) => sum + job.amount!, 0);
      const paid = orders.filter((order) => order.status === 'paid').reduce((sum, order) => sum + order.energy, 0);
      expect(balance!.energy, `balance of an account: grant + purchases − what it used`).toBe(GRANT + paid - committedJobs - chat!.committed);
      // Where the client knows every answer, it knows the total too (each accepted request charged once).
      if (user.unknownWrites === 0) {
        const succeeded = jobs.filter((job) => job.status === 'succeeded').reduce((sum, job) => sum + COSTS[job.kind as 'text' | 'poem'], 0);
        const chatsCharged = await system.sql<{ n: number }>("SELECT count(*)::int AS n FROM chat.messages m JOIN billing.reservations r ON r.id = m.id WHERE m.user_id = $1 AND m.role = 'user' AND r.state = 'committed'", [user.userId]);
        expect(jobs.length).toBe(user.jobs.length);
        expect(chatsCharged[0]!.n, 'every answered chat message charged once').toBe(user.chats);
        expect(balance!.energy).toBe(GRANT + user.purchased.reduce((sum, purchase) => sum + purchase.energy, 0) - succeeded - chatsCharged[0]!.n * COSTS.chat);
        exactTotals++;
      }
    }

    // Nothing of an erased account in any schema (tombstones hold an opaque id by design), nor in object storage.
    for (const user of users.filter((candidate) => candidate.erasureId)) {
      for (const needle of [user.userId, user.email]) expect(await tablesMentioning(system, needle, { except: ['tombstones'] }), 'tables mentioning an erased user').toEqual([]);
      for (const prefix of [`media/${user.userId}/`, `generation/${user.userId}/`, `retention/${user.userId}/`]) expect(await objectsUnder(system, prefix), prefix).toEqual([]);
    }

    // No event lost or doubled: every stored event is in the inbox of every durable that reads it,
    // every durable has nothing pending, and nothing was dead-lettered.
    const stored = await storedEventIds();
    expect(stored.duplicates, 'events stored twice').toEqual([]);
    const jsm = await system.jsm();
    const stream = streamName(system.namespace, EVENTS_STREAM);
    let applied = 0;
    for (const consumer of declaredConsumers().values()) {
      if (!schemas.includes(consumer.service)) continue;
      // Every subject of its event (one per publisher for an event several services announce).
      const expected = [...stored.bySubject].filter(([subject]) => eventPublisherOf(system.namespace, consumer.event, subject) !== undefined).flatMap(([, ids]) => ids);
      await until(
        async () => {
          const info = await jsm.consumers.info(stream, consumer.durableName);
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
        { what: `${consumer.durableName} caught up`, timeoutMs: 30_000 },
      );
      const inbox = new Set(
        (await system.sql<{ message_id: string }>(`SELECT message_id FROM "${consumer.service}".inbox WHERE consumer = $1`, [consumer.durableName])).map((row) => row.message_id),
      );
      const missing = expected.filter((id) => !inbox.has(id));
      expect(missing, `${consumer.durableName}: stored events it never applied`).toEqual([]);
      applied += expected.length;
    }
    const deadLetters = await jsm.streams.info(streamName(system.namespace, DEAD_LETTER_STREAM));
    expect(deadLetters.state.messages, 'dead letters').toBe(0);

    // The killed member is back and current on the R3 stream.
    await until(
      async () => {
        const info = await jsm.streams.info(stream);
        return (info.cluster?.replicas ?? []).length === 2 && (info.cluster?.replicas ?? []).every((replica) => replica.current);
      },
      { what: 'all three members current on the events stream', timeoutMs: 30_000 },
    );

    timings.checks = performance.now() - checksStartedAt;
    const restarted = system.supervisor.status().filter((instance) => instance.restarts > 0);
    const restarts = restarted.reduce((sum, instance) => sum + instance.restarts, 0);
    const summary = {
      users: users.length,
      erased: users.filter((user) => user.erasureId).length,
      jobs: users.reduce((sum, user) => sum + user.jobs.length, 0),
      chats: users.reduce((sum, user) => sum + user.chats, 0),
      purchases: users.reduce((sum, user) => sum + user.purchased.length, 0),
      uploads: users.reduce((sum, user) => sum + user.uploads.length, 0),
      storedEvents: stored.total,
      eventsApplied: applied,
      accountsWithExactClientTotals: `${exactTotals}/${live.length}`,
      ...counts,
      restarts: Object.fromEntries(restarted.map((instance) => [instance.instance, instance.restarts])),
      slowestMs: slowest,
      seconds: Object.fromEntries(Object.entries(timings).map(([key, ms]) => [key, Math.round(ms / 100) / 10])),
    };
    process.stdout.write(`[scale-out] ${JSON.stringify(summary)}\n[scale-out] ${timeline.join('; ')}\n`);
    expect(restarts, 'the killed instances were restarted by the supervisor').toBeGreaterThanOrEqual(SERVICE_MANIFEST.length);
    // And they came back: every instance ready again (the supervisor looks every 5 s).
    await until(() => Promise.resolve(system.supervisor.status().every((instance) => instance.state === 'ready')), { what: 'every instance ready again', timeoutMs: 60_000 });
  }, 300_000);
});

/** The inbox id of every message in the events stream (Hw-Message-Id on a replay, else Nats-Msg-Id), by subject. */
async function storedEventIds(): Promise<{ total: number; bySubject: Map<string, string[]>; duplicates: string[] }> {
  const jsm = await system.jsm();
  const stream = streamName(system.namespace, EVENTS_STREAM);
  const { name } = await jsm.consumers.add(stream, { filter_subject: `${eventsRootSubject(system.namespace)}.>`, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 60_000_000_000 });
  try {
    const { num_pending: total } = await jsm.consumers.info(stream, name);
    const consumer = await jetstream(system.nats).consumers.get(stream, name);
    const bySubject = new Map<string, string[]>();
    const seen = new Set<string>();
    const duplicates: string[] = [];
    let read = 0;
    while (read < total) {
      let got = 0;
      for await (const msg of await consumer.fetch({ max_messages: Math.min(1_000, total - read), expires: 2_000 })) {
        const id = msg.headers?.get('Hw-Message-Id') || msg.headers?.get('Nats-Msg-Id') || '';
        if (seen.has(id)) duplicates.push(msg.subject);
        seen.add(id);
        bySubject.set(msg.subject, [...(bySubject.get(msg.subject) ?? []), id]);
        got++;
        read++;
        if (read === total) break;
      }
      if (got === 0) break;
    }
    expect(read, 'every stored event read').toBe(total);
    return { total, bySubject, duplicates };
  } finally {
    await jsm.consumers.delete(stream, name);
  }
}

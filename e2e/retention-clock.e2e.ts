import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PurgeCompletedV1, UploadExpiredV1, UserDeletedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { buy, generate, operator, PASSWORD, register, uploadText, type Person } from './support/privacy.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';

// §5 through the real processes with the clock moved: one timeline, oldest facts first,
// since a moved clock is the whole system's. Users: A (no Prime), P (Prime), H (under a
// legal hold from day 0), I (never comes back). Each step checks that retention's clock —
// not a service's own safety net, which acts a day later — deleted what was due.

const DAY = 86_400_000;
const HOUR = 3_600_000;

let system: TestSystem;
let A: Person & { uploadId?: string; kept?: string; restored?: string; trashed?: string };
let P: Person & { content?: string; orderId?: string };
let H: Person & { uploadId?: string; content?: string; holdId?: string };
let I: Person;

beforeAll(async () => {
  system = await startTestSystem({
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '10000',
      RATE_LIMIT_WRITE_PER_MINUTE: '10000',
      RATE_LIMIT_GENERATION_PER_MINUTE: '10000',
      RETENTION_TICK_MS: '200',
      RETENTION_AUDIT_INTERVAL_MS: '200',
      // The services' own safety nets run often too: the test proves they leave retention's items alone until a day after.
      UPLOAD_SWEEP_INTERVAL_MS: '300',
      CONTENT_SWEEP_INTERVAL_MS: '300',
      CHAT_SWEEP_INTERVAL_MS: '300',
      TRANSACTION_SWEEP_INTERVAL_MS: '300',
      PRIME_SWEEP_INTERVAL_MS: '300',
    },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
});

async function at(days: number, extraMs = 0): Promise<void> {
  await system.setClockOffset(days * DAY + extraMs);
}

/** A fresh token at the moved time (tokens expire; logging in also counts as the user being seen). */
async function login(person: Person): Promise<Person> {
  const { accessToken } = await system.api().accounts.login({ login: person.email, password: PASSWORD });
  person.token = accessToken;
  return person;
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const [row] = await system.sql<{ n: number }>(sql, params);
  return row?.n ?? 0;
}

const uploadRows = (id: string) => count('SELECT count(*)::int AS n FROM media.uploads WHERE id = $1', [id]);
const contentRows = (id: string) => count('SELECT count(*)::int AS n FROM generation.contents WHERE id = $1', [id]);
const messageRows = (userId: string) => count('SELECT count(*)::int AS n FROM chat.messages WHERE user_id = $1', [userId]);
const accountRows = (userId: string) => count('SELECT count(*)::int AS n FROM identity.users WHERE id = $1', [userId]);

async function purgeTrigger(scopeId: string): Promise<string | undefined> {
  return (await system.events(PurgeCompletedV1)).find((event) => event.scopeId === scopeId && (event.counts.uploads ?? event.counts.contents ?? 0) > 0)?.trigger?.type;
}

describe('the policy clock across the running services (§5)', () => {
  it('day 0: data for A, P (with Prime), H (under a legal hold) and I', async () => {
    A = await register(system, 'alice');
    P = await register(system, 'prime');
    H = await register(system, 'held');
    I = await register(system, 'idle');
    A.uploadId = await uploadText(system, A, 'a note of A');
    A.kept = await generate(system, A, 'poem', 'a poem to keep');
    A.restored = await generate(system, A, 'poem', 'a poem to delete and restore');
    A.trashed = await generate(system, A, 'poem', 'a poem to delete');
    await system.api({ token: A.token }).assistants.send('poem-helper', 'a message of A');
    P.orderId = await buy(system, P, 'prime');
    await eventually(async () => (await system.api({ token: P.token }).accounts.me()).prime.active, { what: 'Prime active' });
    P.content = await generate(system, P, 'poem', 'a poem kept by Prime');
    await system.api({ token: P.token }).assistants.send('poem-helper', 'a message of P');
    const ops = await operator(system);
    H.holdId = (await system.api({ token: ops.token }).operators.placeHold(H.userId, 'investigation 2026-9')).id;
    H.uploadId = await uploadText(system, H, 'a note of H');
    H.content = await generate(system, H, 'poem', 'a poem of H');
    await system.api({ token: H.token }).assistants.send('poem-helper', 'a message of H');
  });

  it('day 1 and 6: A deletes two contents and restores one of them on day 6', async () => {
    await at(1);
    const api = system.api({ token: (await login(A)).token });
    await api.contents.delete(A.restored!);
    await api.contents.delete(A.trashed!);
    await at(6);
    await api.withToken((await login(A)).token).contents.restore(A.restored!);
  });

  it('day 7: the uploads are gone — by retention’s UploadExpired — except the held user’s', async () => {
    await at(7, HOUR);
    await eventually(async () => (await uploadRows(A.uploadId!)) === 0, { what: 'A’s upload purged' });
    expect(await purgeTrigger(A.uploadId!)).toBe('UploadExpired.v1');
    expect((await system.events(UploadExpiredV1)).some((event) => event.uploadId === H.uploadId)).toBe(false);
    expect(await uploadRows(H.uploadId!)).toBe(1);
  });

  it('day 8: deleted content is gone, the content restored on day 6 stays', async () => {
    await at(8, HOUR);
    await eventually(async () => (await contentRows(A.trashed!)) === 0, { what: 'trashed content purged' });
    expect(await purgeTrigger(A.trashed!)).toBe('ContentExpired.v1');
    expect(await contentRows(A.restored!)).toBe(1);
    expect(await contentRows(A.kept!)).toBe(1);
  });

  it('day 92: A’s content and chat history are gone (2–4 months); P’s Prime content and chat stay; H’s stay', async () => {
    await at(92);
    await eventually(async () => (await contentRows(A.kept!)) === 0 && (await contentRows(A.restored!)) === 0, { what: 'A’s contents purged' });
    await eventually(async () => (await messageRows(A.userId)) === 0, { what: 'A’s chat purged' });
    // P's Prime period (the cheapest product's days) ended; its content counts 90 days from that end.
    expect(await contentRows(P.content!)).toBe(1);
    expect(await messageRows(P.userId)).toBeGreaterThan(0);
    expect(await contentRows(H.content!)).toBe(1);
    expect(await messageRows(H.userId)).toBeGreaterThan(0);
  });

  it('day 345: inactive users are warned by email with the date of deletion; the held user is not', async () => {
    await at(345);
    for (const person of [P, I, A]) {
      const mail = await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === person.email.toLowerCase()) && /will be deleted on/.test(message.subject));
      expect(mail.text).toMatch(/\d{4}-\d{2}-\d{2}|\d{1,2} \w+ \d{4}/);
    }
    expect(system.mail.messages().some((message) => message.to.includes(H.email))).toBe(false);
  });

  it('day 380: inactive accounts are erased (reason inactivity); security events over 12 months are gone; P’s transaction stays without the person', async () => {
    await at(380);
    for (const person of [A, P, I]) await eventually(async () => (await accountRows(person.userId)) === 0, { what: `${person.username} erased` });
    const erased = (await system.events(UserDeletedV1)).filter((event) => [A.userId, P.userId, I.userId].includes(event.userId));
    expect(erased.map((event) => event.reason)).toEqual(['inactivity', 'inactivity', 'inactivity']);
    expect(await accountRows(H.userId)).toBe(1);
    expect(await contentRows(P.content!)).toBe(0);
    await eventually(
      async () => (await count("SELECT count(*)::int AS n FROM identity.security_events WHERE occurred_at < now() + make_interval(days => 380 - 365) AND user_id IS DISTINCT FROM $1", [H.userId])) === 0,
      { what: 'security events older than 12 months purged' },
    );
    expect(await count('SELECT count(*)::int AS n FROM identity.security_events WHERE user_id = $1', [H.userId])).toBeGreaterThan(0);
    expect(await count('SELECT count(*)::int AS n FROM billing.orders WHERE id = $1 AND user_id IS NULL', [P.orderId])).toBe(1);
  });

  it('day 381: releasing the hold lets every held-back deletion happen — the inactivity erasure after its 4 weeks’ warning', async () => {
    await at(381);
    expect(await uploadRows(H.uploadId!)).toBe(1);
    const ops = await operator(system);
    await system.api({ token: ops.token }).operators.releaseHold(H.holdId!);
    await eventually(async () => (await uploadRows(H.uploadId!)) === 0 && (await contentRows(H.content!)) === 0 && (await messageRows(H.userId)) === 0, { what: 'H’s data purged' });
    const warning = await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === H.email.toLowerCase()) && /will be deleted on/.test(message.subject));
    const erasureDay = /(\d{4}-\d{2}-\d{2})/.exec(warning.subject)![1]!;
    expect(Date.parse(erasureDay) - (Date.now() + 381 * DAY)).toBeGreaterThan(27 * DAY);
    expect(await accountRows(H.userId)).toBe(1);
    await at(381 + 29);
    await eventually(async () => (await accountRows(H.userId)) === 0, { what: 'H erased 4 weeks after the warning' });
  });

  it('after 5 years the unlinked transaction record is gone too (§5.7)', async () => {
    await at(5 * 365 + 30);
    await eventually(async () => (await count('SELECT count(*)::int AS n FROM billing.orders WHERE id = $1', [P.orderId])) === 0, { what: 'transaction purged' });
  });
});

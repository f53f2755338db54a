import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '@homiwork/clock';
import {
  ChatHistoryExpiredV1,
  ContentCreatedV1,
  ContentDeletedV1,
  ContentExpiredV1,
  ContentRestoredV1,
  GenerationFinishedV1,
  InactiveAccountDueV1,
  PrimeStatusChangedV1,
  UploadExpiredV1,
  UploadStoredV1,
  UserRegisteredV1,
  UserSeenV1,
} from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import pg from 'pg';
import { FireDueItems, PolicyClock } from '../src/clock/index.js';
import { startRetentionHarness, type RetentionHarness } from './harness.js';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** The policy clock end to end: events in → due items → with the clock moved, the expiry events out of JetStream. */
describe('policy clock', () => {
  let h: RetentionHarness;

  beforeAll(async () => {
    h = await startRetentionHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const sweep = () => h.get(PolicyClock).sweep();
  const dueRows = (userId: string) =>
    h.sql<{ kind: string; subject_id: string; due_at: Date | null; trashed: boolean }>('SELECT kind, subject_id, due_at, trashed FROM due_items WHERE user_id = $1 ORDER BY kind, subject_id', [userId]);
  const waitForRow = (userId: string, kind: string, check: (row: { due_at: Date | null; trashed: boolean }) => boolean = () => true) =>
    eventually(async () => (await dueRows(userId)).some((row) => row.kind === kind && check(row)), { what: `a ${kind} due item` });
  const uploadsExpired = async (userId: string) => (await h.events(UploadExpiredV1)).filter((event) => event.userId === userId);
  const contentsExpired = async (userId: string) => (await h.events(ContentExpiredV1)).filter((event) => event.userId === userId);

  it('expires an upload 7 days after it was stored, once', async () => {
    const userId = randomUUID();
    const uploadId = randomUUID();
    const storedAt = h.now().getTime();
    const payload = { userId, uploadId, kind: 'image' as const, storedAt: iso(storedAt), expiresAt: iso(storedAt + 7 * DAY_MS) };
    await h.publish(UploadStoredV1, payload);
    await h.publish(UploadStoredV1, payload); // a repeat changes nothing
    await waitForRow(userId, 'upload');

    h.advanceClock(7 * DAY_MS - HOUR);
    await sweep();
    await h.outboxDrained();
    expect(await uploadsExpired(userId)).toEqual([]);
    expect(await dueRows(userId)).toHaveLength(1);

    h.advanceClock(2 * HOUR);
    expect(await sweep()).toBeGreaterThanOrEqual(1);
    const fired = await h.eventsUntil(UploadExpiredV1, (events) => events.some((event) => event.userId === userId));
    expect(fired.filter((event) => event.userId === userId)).toEqual([{ userId, uploadId, expiredAt: payload.expiresAt }]);
    expect(await dueRows(userId)).toEqual([]);

    await sweep();
    await h.outboxDrained();
    expect(await uploadsExpired(userId)).toHaveLength(1);
  });

  it('expires non-Prime content after 90 days and keeps Prime content until Prime ends, then 90 days more', async () => {
    const plain = randomUUID();
    const prime = randomUUID();
    const plainContent = randomUUID();
    const primeContent = randomUUID();
    const start = h.now().getTime();
    await h.publish(PrimeStatusChangedV1, { userId: prime, active: true, expiresAt: iso(start + 30 * DAY_MS), changedAt: iso(start) });
    await eventually(async () => (await h.sql('SELECT 1 FROM prime_status WHERE user_id = $1', [prime])).length === 1);
    await h.publish(ContentCreatedV1, { userId: plain, contentId: plainContent, kind: 'poem', sourceUploadIds: [], createdAt: iso(start) });
    await h.publish(ContentCreatedV1, { userId: prime, contentId: primeContent, kind: 'poem', sourceUploadIds: [], createdAt: iso(start) });
    await waitForRow(plain, 'content');
    await waitForRow(prime, 'content');
    expect((await dueRows(prime))[0]!.due_at).toBeNull();

    h.advanceClock(91 * DAY_MS);
    await sweep();
    await h.eventsUntil(ContentExpiredV1, (events) => events.some((event) => event.userId === plain));
    expect((await contentsExpired(plain)).map((event) => event.contentId)).toEqual([plainContent]);
    expect(await contentsExpired(prime)).toEqual([]);

    // Prime ends now (an older "active" delivered late changes nothing): 90 days from the end.
    const ended = h.now().getTime();
    await h.publish(PrimeStatusChangedV1, { userId: prime, active: false, expiresAt: iso(ended), changedAt: iso(ended) });
    await h.publish(PrimeStatusChangedV1, { userId: prime, active: true, expiresAt: iso(ended + DAY_MS), changedAt: iso(start + HOUR) });
    await waitForRow(prime, 'content', (row) => row.due_at !== null);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await dueRows(prime))[0]!.due_at).toEqual(new Date(ended + 90 * DAY_MS));

    h.advanceClock(89 * DAY_MS);
    await sweep();
    await h.outboxDrained();
    expect(await contentsExpired(prime)).toEqual([]);
    h.advanceClock(2 * DAY_MS);
    await sweep();
    await h.eventsUntil(ContentExpiredV1, (events) => events.some((event) => event.userId === prime));
    expect((await contentsExpired(prime)).map((event) => event.contentId)).toEqual([primeContent]);
  });

  it('keeps content restored on day 6 and expires content left in the trash on day 7, Prime or not', async () => {
    const userId = randomUUID();
    const kept = randomUUID();
    const trashed = randomUUID();
    const start = h.now().getTime();
    await h.publish(PrimeStatusChangedV1, { userId, active: true, expiresAt: null, changedAt: iso(start) });
    for (const contentId of [kept, trashed]) {
      await h.publish(ContentCreatedV1, { userId, contentId, kind: 'image', sourceUploadIds: [], createdAt: iso(start) });
    }
    await eventually(async () => (await dueRows(userId)).length === 2);
    for (const contentId of [kept, trashed]) await h.publish(ContentDeletedV1, { userId, contentId, sourceUploadIds: [], deletedAt: iso(start + HOUR) });
    await eventually(async () => (await dueRows(userId)).every((row) => row.trashed));

    h.advanceClock(6 * DAY_MS);
    await h.publish(ContentRestoredV1, { userId, contentId: kept, restoredAt: iso(h.now().getTime()) });
    await waitForRow(userId, 'content', (row) => !row.trashed);

    h.advanceClock(2 * DAY_MS);
    await sweep();
    await h.eventsUntil(ContentExpiredV1, (events) => events.some((event) => event.userId === userId));
    expect((await contentsExpired(userId)).map((event) => event.contentId)).toEqual([trashed]);
    // The restored one is back under the standard rule: Prime keeps it.
    expect(await dueRows(userId)).toEqual([{ kind: 'content', subject_id: kept, due_at: null, trashed: false }]);
  });

  it('tolerates a delete, a restore and a creation arriving in any order', async () => {
    const userId = randomUUID();
    const contentId = randomUUID();
    const t = h.now().getTime();
    // The restore (newest) first, then the older delete, then the creation.
    await h.publish(ContentRestoredV1, { userId, contentId, restoredAt: iso(t + 2 * HOUR) });
    await waitForRow(userId, 'content');
    await h.publish(ContentDeletedV1, { userId, contentId, sourceUploadIds: [], deletedAt: iso(t + HOUR) });
    await h.publish(ContentCreatedV1, { userId, contentId, kind: 'text', sourceUploadIds: [], createdAt: iso(t) });
    await waitForRow(userId, 'content', (row) => row.due_at?.getTime() === t + 90 * DAY_MS);
    expect((await dueRows(userId))[0]!.trashed).toBe(false);
  });

  it("expires a non-Prime user's chat history of a day 90 days after the day ended, for every assistant", async () => {
    const userId = randomUUID();
    const primeUser = randomUUID();
    const now = h.now().getTime();
    const day = iso(now).slice(0, 10);
    const dayEnd = Date.parse(`${day}T00:00:00Z`) + DAY_MS;
    await h.publish(PrimeStatusChangedV1, { userId: primeUser, active: true, expiresAt: null, changedAt: iso(now) });
    await eventually(async () => (await h.sql('SELECT 1 FROM prime_status WHERE user_id = $1', [primeUser])).length === 1);
    for (const [user, purpose] of [
      [userId, 'chat'],
      [userId, 'chat'],
      [userId, 'song'],
      [primeUser, 'chat'],
    ] as const) {
      await h.publish(GenerationFinishedV1, { userId: user, jobId: randomUUID(), purpose, outcome: 'succeeded', finishedAt: iso(now) });
    }
    await waitForRow(userId, 'chat_history');
    await waitForRow(primeUser, 'chat_history');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await dueRows(userId)).toHaveLength(1);
    expect((await dueRows(userId))[0]!.due_at).toEqual(new Date(dayEnd + 90 * DAY_MS));

    h.advanceClock(dayEnd + 90 * DAY_MS - now + HOUR);
    await sweep();
    const events = await h.eventsUntil(ChatHistoryExpiredV1, (all) => all.some((event) => event.userId === userId));
    expect(events.filter((event) => event.userId === userId)).toEqual([{ userId, before: iso(dayEnd) }]);
    expect(events.filter((event) => event.userId === primeUser)).toEqual([]);
  });

  it('warns an account unused for 337 days and erases it at 365; a later visit moves both, an older one does not', async () => {
    const userId = randomUUID();
    const registered = h.now().getTime();
    const registeredOn = iso(registered).slice(0, 10);
    await h.publish(UserRegisteredV1, { userId, registeredAt: iso(registered) });
    await waitForRow(userId, 'inactive_erasure');
    expect((await dueRows(userId)).map((row) => row.kind)).toEqual(['inactive_erasure', 'inactive_warning']);

    const seenOn = iso(registered + 10 * DAY_MS).slice(0, 10);
    await h.publish(UserSeenV1, { userId, seenOn });
    const basis = Date.parse(`${seenOn}T00:00:00Z`) + DAY_MS;
    await waitForRow(userId, 'inactive_erasure', (row) => row.due_at?.getTime() === basis + 365 * DAY_MS);
    await h.publish(UserSeenV1, { userId, seenOn: registeredOn }); // older, late: changes nothing
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await dueRows(userId)).map((row) => row.due_at?.getTime())).toEqual([basis + 365 * DAY_MS, basis + 337 * DAY_MS]);

    h.advanceClock(basis + 337 * DAY_MS - h.now().getTime() + HOUR);
    await sweep();
    const warned = await h.eventsUntil(InactiveAccountDueV1, (all) => all.some((event) => event.userId === userId));
    // The warning went out an hour late, so the erasure moved an hour too: always 4 weeks' notice.
    const warning = warned.filter((event) => event.userId === userId);
    expect(warning).toEqual([{ userId, stage: 'warning', lastSeenOn: seenOn, erasureAt: expect.any(String) }]);
    expect(Math.abs(Date.parse(warning[0]!.erasureAt) - (basis + 365 * DAY_MS + HOUR))).toBeLessThan(5_000);

    // A stale visit after the warning fired brings no second warning.
    await h.publish(UserSeenV1, { userId, seenOn: registeredOn });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await dueRows(userId)).map((row) => row.kind)).toEqual(['inactive_erasure']);

    h.advanceClock(28 * DAY_MS);
    await sweep();
    const all = await h.eventsUntil(InactiveAccountDueV1, (events) => events.filter((event) => event.userId === userId).length === 2);
    expect(all.filter((event) => event.userId === userId).map((event) => event.stage)).toEqual(['warning', 'erasure']);
    expect(await dueRows(userId)).toEqual([]);
  });

  it('after a jump past both dates, warns first and erases only 4 weeks after the warning (§5.2)', async () => {
    const userId = randomUUID();
    const registered = h.now().getTime();
    await h.publish(UserRegisteredV1, { userId, registeredAt: iso(registered) });
    await waitForRow(userId, 'inactive_erasure');
    h.advanceClock(400 * DAY_MS);
    await sweep();
    const warned = await h.eventsUntil(InactiveAccountDueV1, (all) => all.some((event) => event.userId === userId));
    const mine = warned.filter((event) => event.userId === userId);
    expect(mine.map((event) => event.stage)).toEqual(['warning']);
    expect(Date.parse(mine[0]!.erasureAt)).toBeGreaterThanOrEqual(h.now().getTime() + 28 * DAY_MS - 1_000);
    await sweep();
    expect((await dueRows(userId)).map((row) => row.kind)).toEqual(['inactive_erasure']);
    h.advanceClock(28 * DAY_MS + HOUR);
    await sweep();
    const all = await h.eventsUntil(InactiveAccountDueV1, (events) => events.filter((event) => event.userId === userId).length === 2);
    expect(all.filter((event) => event.userId === userId).map((event) => event.stage)).toEqual(['warning', 'erasure']);
  });

  it('fires nothing of a user under an active legal hold, and everything once the hold is released', async () => {
    const held = randomUUID();
    const free = randomUUID();
    const uploadHeld = randomUUID();
    const uploadFree = randomUUID();
    const contentHeld = randomUUID();
    const t = h.now().getTime();
    await h.sql("INSERT INTO legal_holds (id, user_id, reason, source, placed_at) VALUES ($1, $2, 'court order', 'operator', $3)", [randomUUID(), held, new Date(t)]);
    for (const [userId, uploadId] of [
      [held, uploadHeld],
      [free, uploadFree],
    ] as const) {
      await h.publish(UploadStoredV1, { userId, uploadId, kind: 'audio', storedAt: iso(t), expiresAt: iso(t + 7 * DAY_MS) });
    }
    await h.publish(ContentCreatedV1, { userId: held, contentId: contentHeld, kind: 'song', sourceUploadIds: [], createdAt: iso(t) });
    await waitForRow(held, 'content');
    await waitForRow(free, 'upload');

    h.advanceClock(100 * DAY_MS);
    await sweep();
    await h.eventsUntil(UploadExpiredV1, (events) => events.some((event) => event.userId === free));
    expect(await uploadsExpired(held)).toEqual([]);
    expect(await contentsExpired(held)).toEqual([]);
    expect((await dueRows(held)).map((row) => row.kind)).toEqual(['content', 'upload']);

    await h.sql('UPDATE legal_holds SET released_at = $2 WHERE user_id = $1', [held, h.now()]);
    await sweep();
    await h.eventsUntil(ContentExpiredV1, (events) => events.some((event) => event.userId === held));
    expect((await uploadsExpired(held)).map((event) => event.uploadId)).toEqual([uploadHeld]);
    expect((await contentsExpired(held)).map((event) => event.contentId)).toEqual([contentHeld]);
  });

  it("drops an erased user's facts (tombstone)", async () => {
    const userId = randomUUID();
    await h.sql('INSERT INTO tombstones (user_id, erased_at) VALUES ($1, $2)', [userId, h.now()]);
    const marker = randomUUID();
    await h.publish(UserSeenV1, { userId, seenOn: iso(h.now().getTime()).slice(0, 10) });
    await h.publish(UserSeenV1, { userId: marker, seenOn: iso(h.now().getTime()).slice(0, 10) });
    await waitForRow(marker, 'inactive_erasure'); // the same consumer, after the erased user's event
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await dueRows(userId)).toEqual([]);
  });
});

/** Several instances, restarts and clock jumps: each due item fires exactly once. */
describe('policy clock, exactly once', () => {
  let h: RetentionHarness;
  const N = 3_000;

  beforeAll(async () => {
    h = await startRetentionHarness({ instances: 2, env: { RETENTION_BATCH_SIZE: '100' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** N upload items of one user, due over the last `spreadMs`. */
  const seed = async (userId: string, n: number, spreadMs: number) => {
    await h.sql(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at)
       SELECT 'upload', gen_random_uuid(), $1, $2::timestamptz - make_interval(secs => ($4::float8 / 1000) * i / $3), $2::timestamptz - make_interval(secs => ($4::float8 / 1000) * i / $3)
         FROM generate_series(1, $3) AS i`,
      [userId, h.now(), n, spreadMs],
    );
  };
  const expiredOf = async (userId: string) => (await h.events(UploadExpiredV1)).filter((event) => event.userId === userId);
  const expectExactlyOnce = async (userId: string, n: number) => {
    await h.outboxDrained(30_000);
    const events = await expiredOf(userId);
    expect(events).toHaveLength(n);
    expect(new Set(events.map((event) => event.uploadId)).size).toBe(n);
    expect(await h.sql('SELECT 1 FROM due_items WHERE user_id = $1', [userId])).toEqual([]);
  };

  it('two instances sweeping at once fire each item once', async () => {
    const userId = randomUUID();
    await seed(userId, N, HOUR);
    const [a, b] = h.running();
    const fired = await Promise.all([a!.get(PolicyClock).sweep(), b!.get(PolicyClock).sweep(), a!.get(PolicyClock).sweep()]);
    expect(fired[0] + fired[1]).toBe(N);
    expect(fired[0]).toBeGreaterThan(0);
    expect(fired[1]).toBeGreaterThan(0);
    await expectExactlyOnce(userId, N);
  });

  it('an instance killed mid-sweep leaves the rest to a new one, which fires each remaining item once', async () => {
    const userId = randomUUID();
    const n = 20_000;
    const batch = 100;
    await seed(userId, n, HOUR);
    const [a, b] = h.running();
    await b!.stop();
    // Five batches commit; the sixth is caught inside its transaction (its rows deleted, its
    // events not yet written: the outbox is locked) when the instance's sessions are cut — a
    // crash at the worst moment, made certain rather than raced.
    const fire = a!.get(FireDueItems);
    const now = h.now();
    for (let i = 0; i < 5; i++) expect(await fire.batch(now, batch)).toBe(batch);
    const locker = new pg.Client({ connectionString: h.databaseUrl, application_name: 'test-outbox-lock' });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE retention.outbox IN EXCLUSIVE MODE');
      const inFlight = fire.batch(now, batch).catch(() => -1);
      const blocked = async () => (await locker.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'retention' AND wait_event_type = 'Lock'")).rows[0]!.n > 0;
      await eventually(blocked, { what: 'the sixth batch waiting on the outbox', timeoutMs: 10_000 });
      await locker.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'retention'");
      expect(await inFlight).toBe(-1);
      await locker.query('ROLLBACK');
    } finally {
      await locker.end();
    }
    await a!.stop().catch(() => undefined);
    const left = Number((await h.sql<{ n: number }>('SELECT count(*)::int AS n FROM due_items WHERE user_id = $1', [userId]))[0]!.n);
    expect(left).toBe(n - 5 * batch);

    const c = await h.startInstance();
    await c.get(PolicyClock).sweep();
    await expectExactlyOnce(userId, n);
  });

  it('a clock jump fires everything due, in batches', async () => {
    const userId = randomUUID();
    // Due over the coming year.
    await h.sql(
      `INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at)
       SELECT 'upload', gen_random_uuid(), $1, $2::timestamptz, $2::timestamptz + make_interval(hours => i * 3) FROM generate_series(1, $3) AS i`,
      [userId, h.now(), N],
    );
    const instance = h.running()[0]!;
    expect(await instance.get(PolicyClock).sweep()).toBe(0);
    h.advanceClock(400 * DAY_MS);
    expect(await instance.get(PolicyClock).sweep()).toBe(N);
    await expectExactlyOnce(userId, N);
    const metrics = await fetch(`${instance.service.opsUrl}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/retention_due_items_fired_total\{[^}]*kind="upload"[^}]*\} \d+/);
    expect(metrics).toMatch(/retention_due_items_overdue\{[^}]*\} 0/);
  });

  it('reports items left behind as overdue', async () => {
    const userId = randomUUID();
    await seed(userId, 5, HOUR);
    h.advanceClock(2 * h.config.RETENTION_TICK_MS);
    const instance = h.running()[0]!;
    const metrics = await fetch(`${instance.service.opsUrl}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/retention_due_items_overdue\{[^}]*\} 5/);
    await instance.get(PolicyClock).sweep();
    await expectExactlyOnce(userId, 5);
  });
});

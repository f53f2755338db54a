import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ErasureApprovedV1,
  ErasureRequestedV1,
  LegalHoldPlacedV1,
  ProhibitedContentDetectedV1,
  PurgeCompletedV1,
  RetentionConsumers,
  RetentionRpc,
  UserDeletedV1,
  type CallerContext,
  type DATA_OWNING_SERVICES,
  type EventPayload,
} from '@homiwork/contracts';
import { RpcError } from '@homiwork/messaging';
import { eventually } from '@homiwork/testing';
import { startRetentionHarness, type RetentionHarness } from './harness.js';

type Service = (typeof DATA_OWNING_SERVICES)[number];
const PAGE = RetentionRpc.OPERATOR_LIST_PAGE_SIZE;
/** NATS refuses a reply over 1 MB; a page stays well under it. */
const REPLY_BUDGET_BYTES = 900 * 1024;

/**
 * The security review's findings on holds and erasures, each shown against the running
 * retention (two instances, real PostgreSQL and NATS): the automatic hold cannot lose the
 * race to an erasure, the public view never tells of a hold, the operators' lists and the
 * active-holds answer stay far below NATS's 1 MB, and a hold's free-text reason goes with
 * the erasure.
 */
describe('retention: erasures and holds after the security review', () => {
  let h: RetentionHarness;
  const operator: Partial<CallerContext> = { userId: randomUUID(), role: 'operator' };

  beforeAll(async () => {
    h = await startRetentionHarness({ instances: 2 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const requestErasure = async (userId: string, erasureId = randomUUID()) => {
    await h.publish(ErasureRequestedV1, { userId, erasureId, reason: 'user_request', requestedAt: h.now().toISOString() });
    return erasureId;
  };
  const statusOf = async (erasureId: string) => (await h.sql<{ status: string }>('SELECT status FROM erasures WHERE id = $1', [erasureId]))[0]?.status;
  const approvalsOf = async (erasureId: string) => (await h.events(ErasureApprovedV1)).filter((event) => event.erasureId === erasureId);
  const receipt = (service: Service, userId: string, erasureId: string): EventPayload<typeof PurgeCompletedV1> => ({
    service,
    userId,
    erasureId,
    scope: 'user',
    scopeId: userId,
    trigger: { type: 'UserDeleted.v1', messageId: randomUUID() },
    counts: { rows: 2 },
    purgedAt: h.now().toISOString(),
  });
  const purgeEverywhere = async (userId: string, erasureId: string) => {
    await h.publish(UserDeletedV1, { userId, erasureId, reason: 'user_request', deletedAt: h.now().toISOString() });
    for (const service of h.config.ERASURE_SERVICES.filter((name) => name !== 'retention')) await h.publish(PurgeCompletedV1, receipt(service, userId, erasureId));
  };
  const rpcError = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('does not approve an erasure before the ProhibitedContentDetected ahead of it in the stream is applied: the automatic hold holds it', async () => {
    const userId = randomUUID();
    const detectedId = randomUUID();
    // Stand in for a slow ProhibitedContentDetected consumer: the same inbox key, inserted and
    // not committed, makes its transaction wait at its very first statement (before the hold).
    const blocker = new pg.Client({ connectionString: h.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('INSERT INTO retention.inbox (consumer, message_id) VALUES ($1, $2)', [RetentionConsumers.prohibitedContentDetected.durableName, detectedId]);
      await h.publish(ProhibitedContentDetectedV1, { userId, subjectKind: 'prompt', rule: 'csam.text', detectedAt: h.now().toISOString() }, { messageId: detectedId });
      const erasureId = await requestErasure(userId);

      // Longer than the handler's own patience and than the consumer's first pauses: still undecided, nothing approved.
      await sleep(2_500);
      await h.outboxDrained();
      expect(await approvalsOf(erasureId)).toEqual([]);
      expect(await statusOf(erasureId)).toBeUndefined();
      expect((await rpcError(h.call(RetentionRpc.GetErasureRoute, { erasureId }))).status).toBe(404);

      // The hold lands; the erasure is then decided — held — and never approved, never dead-lettered.
      await blocker.query('ROLLBACK');
      await eventually(async () => (await statusOf(erasureId)) === 'held', { what: 'the erasure held', timeoutMs: 20_000 });
      await h.outboxDrained();
      expect(await approvalsOf(erasureId)).toEqual([]);
      expect(await h.sql("SELECT source FROM legal_holds WHERE user_id = $1 AND released_at IS NULL", [userId])).toEqual([{ source: 'prohibited_content' }]);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  });

  it('approves at once when no ProhibitedContentDetected is pending (the usual path stays fast)', async () => {
    const userId = randomUUID();
    const started = Date.now();
    const erasureId = await requestErasure(userId);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    expect(Date.now() - started).toBeLessThan(2_000);
    // A ProhibitedContentDetected after the request in the stream does not hold it back.
    await h.publish(ProhibitedContentDetectedV1, { userId: randomUUID(), subjectKind: 'upload', rule: 'csam.hash', detectedAt: h.now().toISOString() });
    const second = await requestErasure(randomUUID());
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === second));
  });

  it('shows a held erasure publicly as in progress and not overdue; only the operators see `held`', async () => {
    const userId = randomUUID();
    await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'investigation 4411' }, operator);
    const erasureId = await requestErasure(userId);
    await eventually(async () => (await statusOf(erasureId)) === 'held', { what: 'the erasure held' });
    h.advanceClock(25 * 3_600_000);
    const view = await h.call(RetentionRpc.GetErasureRoute, { erasureId });
    expect(view).toMatchObject({ id: erasureId, status: 'in_progress', overdue: false, receipts: [] });
    expect(JSON.stringify(view)).not.toMatch(/held|hold|investigation/);
    const { items } = await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false }, operator);
    expect(items.find((item) => item.id === erasureId)).toMatchObject({ status: 'held', overdue: false });
  });

  it('pages the operators’ erasures list newest first, at most 200 a page and well under 1 MB, ties kept apart by id', async () => {
    const base = new Date('2025-03-01T12:00:00.000Z');
    // 250 erasures: 150 a second apart, then 100 at the same instant (a batch of inactive accounts).
    const ids = (
      await h.sql<{ id: string }>(
        `INSERT INTO erasures (id, user_id, reason, status, requested_at, approved_at, deadline_at, expected_services)
         SELECT gen_random_uuid(), gen_random_uuid(), 'inactivity', CASE WHEN i % 7 = 0 THEN 'held' ELSE 'in_progress' END,
                $1::timestamptz - make_interval(secs => LEAST(i, 150)), NULL, $1::timestamptz + interval '1 day', $2::text[]
           FROM generate_series(0, 249) AS i RETURNING id`,
        [base, h.config.ERASURE_SERVICES],
      )
    ).map((row) => row.id);
    // Realistic receipts: every service but the last, each with eight counts of big numbers.
    const counts = Object.fromEntries(Array.from({ length: 8 }, (_, index) => [`table_number_${index}_rows_deleted`, 9_876_543_210 + index]));
    for (const service of h.config.ERASURE_SERVICES.slice(0, -1)) {
      await h.sql('INSERT INTO erasure_receipts (erasure_id, service, purged_at, counts) SELECT unnest($1::uuid[]), $2, $3, $4::jsonb', [ids, service, base, JSON.stringify(counts)]);
    }

    const seen: Array<{ id: string; requestedAt: string }> = [];
    let cursor: { before?: string; beforeId?: string } = {};
    for (let page = 0; page < 100; page++) {
      const answer = await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false, ...cursor }, operator);
      expect(answer.items.length).toBeLessThanOrEqual(PAGE);
      expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(REPLY_BUDGET_BYTES);
      if (page === 0) expect(answer.items).toHaveLength(PAGE);
      seen.push(...answer.items.map((item) => ({ id: item.id, requestedAt: item.requestedAt })));
      if (answer.items.length < PAGE) break;
      const last = answer.items.at(-1)!;
      cursor = { before: last.requestedAt, beforeId: last.id };
    }
    expect(new Set(seen.map((item) => item.id)).size).toBe(seen.length);
    expect(seen.map((item) => item.id)).toEqual(expect.arrayContaining(ids));
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(a.requestedAt > b.requestedAt || (a.requestedAt === b.requestedAt && a.id > b.id)).toBe(true);
    }
    // `before` alone pages by time; `beforeId` alone is refused, naming it.
    const older = await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false, before: new Date(base.getTime() - 100_000).toISOString() }, operator);
    expect(older.items.every((item) => item.requestedAt < new Date(base.getTime() - 100_000).toISOString())).toBe(true);
    const alone = await rpcError(h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false, beforeId: randomUUID() }, operator));
    expect([alone.status, alone.message]).toEqual([400, 'beforeId: only together with before']);
    // The overdue list is bounded the same way.
    const overdue = await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: true }, operator);
    expect(overdue.items.length).toBeLessThanOrEqual(PAGE);
    expect(overdue.items.length).toBeGreaterThan(0);
    expect(overdue.items.every((item) => item.status === 'in_progress' && item.overdue)).toBe(true);
  });

  it('pages the legal holds 200 at a time, under 1 MB even with the longest reasons that escape worst in JSON', async () => {
    const base = new Date('2025-02-01T08:00:00.000Z');
    const worstReason = '\u0001'.repeat(500); // six bytes each in JSON: the largest a 500-character reason can get
    expect(RetentionRpc.PlaceLegalHoldRoute.request.safeParse({ userId: randomUUID(), reason: worstReason }).success).toBe(true);
    const ids = (
      await h.sql<{ id: string }>(
        `INSERT INTO legal_holds (id, user_id, reason, source, placed_by, placed_at, released_by, released_at)
         SELECT gen_random_uuid(), gen_random_uuid(), $2, 'operator', $3, $1::timestamptz - make_interval(secs => LEAST(i, 120)),
                CASE WHEN i % 2 = 0 THEN $3::uuid END, CASE WHEN i % 2 = 0 THEN $1::timestamptz END
           FROM generate_series(0, 249) AS i RETURNING id`,
        [base, worstReason, operator.userId],
      )
    ).map((row) => row.id);
    const seen: string[] = [];
    let cursor: { before?: string; beforeId?: string } = {};
    for (let page = 0; page < 100; page++) {
      const answer = await h.call(RetentionRpc.ListLegalHoldsRoute, cursor, operator);
      expect(answer.items.length).toBeLessThanOrEqual(PAGE);
      expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(REPLY_BUDGET_BYTES);
      if (page === 0) expect(answer.items).toHaveLength(PAGE);
      seen.push(...answer.items.map((item) => item.id));
      if (answer.items.length < PAGE) break;
      const last = answer.items.at(-1)!;
      cursor = { before: last.placedAt, beforeId: last.id };
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
    // One user's holds, paged the same way.
    const userId = randomUUID();
    for (const reason of ['first', 'second', 'third']) await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason }, operator);
    const mine = await h.call(RetentionRpc.ListLegalHoldsRoute, { userId }, operator);
    expect(mine.items.map((item) => item.reason)).toEqual(['third', 'second', 'first']);
    const rest = await h.call(RetentionRpc.ListLegalHoldsRoute, { userId, before: mine.items[0]!.placedAt, beforeId: mine.items[0]!.id }, operator);
    expect(rest.items.map((item) => item.reason)).toEqual(['second', 'first']);
  });

  it('answers ActiveHoldsRoute only about the users asked, however many holds stand', async () => {
    const held = [randomUUID(), randomUUID()];
    const released = randomUUID();
    await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId: held[0]!, reason: 'a' }, operator);
    await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId: held[0]!, reason: 'b' }, operator);
    await h.publish(ProhibitedContentDetectedV1, { userId: held[1]!, subjectKind: 'upload', rule: 'csam.hash', detectedAt: h.now().toISOString() });
    await h.eventsUntil(LegalHoldPlacedV1, (events) => events.some((event) => event.userId === held[1]));
    const { id } = await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId: released, reason: 'c' }, operator);
    await h.call(RetentionRpc.ReleaseLegalHoldRoute, { id }, operator);
    // Many more holds of other users stand (the previous tests placed hundreds).
    expect((await h.sql<{ n: number }>('SELECT count(DISTINCT user_id)::int AS n FROM legal_holds WHERE released_at IS NULL'))[0]!.n).toBeGreaterThan(100);

    const asked = [...held, released, ...Array.from({ length: RetentionRpc.ACTIVE_HOLDS_MAX_USER_IDS - 3 }, () => randomUUID())];
    const answer = await h.call(RetentionRpc.ActiveHoldsRoute, { userIds: asked });
    expect([...answer.heldUserIds].sort()).toEqual([...held].sort());
    expect((await h.call(RetentionRpc.ActiveHoldsRoute, { userIds: [randomUUID()] })).heldUserIds).toEqual([]);
    // Bounded both ways by the contract: more than the maximum, or none, is a 400.
    expect((await rpcError(h.call(RetentionRpc.ActiveHoldsRoute, { userIds: [...asked, randomUUID()] }))).status).toBe(400);
    expect((await rpcError(h.call(RetentionRpc.ActiveHoldsRoute, { userIds: [] }))).status).toBe(400);
  });

  it("replaces the reasons of a held user's holds by a marker when the erasure completes, keeping source, times and who", async () => {
    const userId = randomUUID();
    const bystander = randomUUID();
    const { id: holdId } = await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'court order 88/2 about the user' }, operator);
    await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId: bystander, reason: 'another case' }, operator);
    const erasureId = await requestErasure(userId);
    await eventually(async () => (await statusOf(erasureId)) === 'held', { what: 'the erasure held' });
    await h.call(RetentionRpc.ReleaseLegalHoldRoute, { id: holdId }, operator);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    const [before] = await h.sql<Record<string, unknown>>('SELECT source, placed_by, placed_at, released_by, released_at, reason FROM legal_holds WHERE id = $1', [holdId]);
    expect(before!.reason).toBe('court order 88/2 about the user');

    await purgeEverywhere(userId, erasureId);
    await eventually(async () => (await statusOf(erasureId)) === 'completed', { what: 'the erasure completed' });
    const [after] = await h.sql<Record<string, unknown>>('SELECT source, placed_by, placed_at, released_by, released_at, reason FROM legal_holds WHERE id = $1', [holdId]);
    expect(after).toEqual({ ...before, reason: 'redacted at erasure' });
    const { items } = await h.call(RetentionRpc.ListLegalHoldsRoute, { userId }, operator);
    expect(items.map((item) => item.reason)).toEqual(['redacted at erasure']);
    expect((await h.call(RetentionRpc.ListLegalHoldsRoute, { userId: bystander }, operator)).items.map((item) => item.reason)).toEqual(['another case']);
  });
});

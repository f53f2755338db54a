import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityRpc, ProcessingRestrictionChangedV1, RetentionRpc } from '@homiwork/contracts';
import { MessagingMetrics, RpcError, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { eventually } from '@homiwork/testing';
import { AuditPrivacyRequests } from '../src/requests/usecases/audit-requests/audit-requests.usecase.js';
import { RECORD_REPEAT_WINDOW_MS } from '../src/requests/usecases/create-request/create-request.usecase.js';
import { startRetentionHarness, type RetentionHarness } from './harness.js';

// §9 privacy requests on the real retention service (PostgreSQL, NATS); identity's
// erasure.request is stood in for by a responder speaking its contract.

const DAY_MS = 24 * 60 * 60 * 1000;
const { CreatePrivacyRequestRoute, GetPrivacyRequestRoute, ListPrivacyRequestsRoute, VerifyPrivacyRequestRoute, WithdrawPrivacyRequestRoute, AdminListPrivacyRequestsRoute } = RetentionRpc;

let h: RetentionHarness;
let identity: RpcServer;
/** The stand-in identity: each user's password, the erasure it opened, and every call. */
const passwords = new Map<string, string>();
const erasures = new Map<string, string>();
const identityCalls: string[] = [];
/** Users whose erasure.request identity answers only after a while (to race it). */
const slowIdentity = new Set<string>();

beforeAll(async () => {
  h = await startRetentionHarness();
  identity = new RpcServer(h.nc, h.namespace, 'identity', createLogger({ service: 'identity-stand-in', level: 'silent' }), new MessagingMetrics(new ServiceMetrics('identity-stand-in')));
  identity.serve(IdentityRpc.RequestErasureRoute, async (request) => {
    identityCalls.push(request.userId);
    if (slowIdentity.has(request.userId)) await new Promise((resolve) => setTimeout(resolve, 800));
    if (passwords.get(request.userId) !== request.password) return Promise.reject(new RpcError(401, 'invalid_credentials', 'the password is wrong'));
    if (!erasures.has(request.userId)) erasures.set(request.userId, randomUUID());
    return Promise.resolve({ erasureId: erasures.get(request.userId)! });
  });
});
afterAll(async () => {
  await identity?.stop();
  await h?.stop();
});

function newUser(): string {
  const userId = randomUUID();
  passwords.set(userId, `correct horse ${userId.slice(0, 6)}`);
  return userId;
}
const as = (userId: string) => ({ userId });
const create = (userId: string, type: RetentionRpc.PrivacyRequestType, extra: { regime?: 'gdpr' | 'ccpa'; password?: string } = {}) =>
  h.call(CreatePrivacyRequestRoute, { type, regime: extra.regime ?? 'gdpr', ...(extra.password ? { password: extra.password } : {}) }, as(userId));
const rowsOf = (userId: string, type?: string) =>
  h.sql<{ id: string; status: string }>(`SELECT id, status FROM privacy_requests WHERE user_id = $1 ${type ? 'AND type = $2' : ''}`, type ? [userId, type] : [userId]);
async function restrictionEvents(userId: string) {
  await h.outboxDrained();
  return (await h.events(ProcessingRestrictionChangedV1)).filter((event) => event.userId === userId);
}

describe('recorded requests and their legal due dates', () => {
  it('consent withdrawal and opt-out of sale: completed at once, outcome recorded, due in 30 days (45 under CCPA), with history; each one recorded', async () => {
    const userId = newUser();
    const consent = await create(userId, 'consent_withdrawal');
    expect(consent).toMatchObject({ type: 'consent_withdrawal', regime: 'gdpr', status: 'completed', outcome: 'recorded' });
    expect(new Date(consent.dueAt).getTime() - new Date(consent.createdAt).getTime()).toBe(30 * DAY_MS);
    expect(consent.completedAt).toBe(consent.createdAt);
    expect(consent.history).toEqual([{ status: 'completed', at: consent.createdAt }]);

    const optOut = await create(userId, 'opt_out_of_sale', { regime: 'ccpa' });
    expect(optOut).toMatchObject({ regime: 'ccpa', status: 'completed', outcome: 'recorded' });
    expect(new Date(optOut.dueAt).getTime() - new Date(optOut.createdAt).getTime()).toBe(45 * DAY_MS);

    // Nothing of these is ever open: a second one (after the repeat window) is a second record.
    h.advanceClock(RECORD_REPEAT_WINDOW_MS + 1_000);
    const again = await create(userId, 'consent_withdrawal');
    expect(again.id).not.toBe(consent.id);
    const listed = await h.call(ListPrivacyRequestsRoute, {}, as(userId));
    expect(listed.items.map((item) => item.id)).toEqual([again.id, optOut.id, consent.id]);
  });

  it('the same recording repeated within a minute (at once or in a burst) answers the first: one row; another regime, or a minute later, is a new one', async () => {
    const userId = newUser();
    const burst = await Promise.all(Array.from({ length: 10 }, () => create(userId, 'consent_withdrawal')));
    expect(new Set(burst.map((request) => request.id)).size).toBe(1);
    expect(await rowsOf(userId, 'consent_withdrawal')).toHaveLength(1);
    h.advanceClock(RECORD_REPEAT_WINDOW_MS - 5_000);
    expect((await create(userId, 'consent_withdrawal')).id).toBe(burst[0]!.id);
    expect((await create(userId, 'consent_withdrawal', { regime: 'ccpa' })).id).not.toBe(burst[0]!.id);
    h.advanceClock(10_000);
    expect((await create(userId, 'consent_withdrawal')).id).not.toBe(burst[0]!.id);
    expect(await rowsOf(userId, 'consent_withdrawal')).toHaveLength(3);
  });
});

describe('the list of a user’s requests is bounded', () => {
  it(`gives the newest ${RetentionRpc.PRIVACY_REQUESTS_PAGE_SIZE}; \`before\` (the last item’s id) pages on to older ones, ties in time included, to the end`, async () => {
    const userId = newUser();
    const total = 2 * RetentionRpc.PRIVACY_REQUESTS_PAGE_SIZE + 30;
    // Stored directly (a burst a user could make over days); every third pair shares a millisecond.
    await h.sql(
      `INSERT INTO privacy_requests (id, user_id, type, regime, status, created_at, due_at, completed_at, outcome)
       SELECT gen_random_uuid(), $1, 'consent_withdrawal', 'gdpr', 'completed', t, t + interval '30 days', t, 'recorded'
         FROM (SELECT now() - ((i / 2) * interval '1 second') AS t FROM generate_series(1, $2) AS i) AS times`,
      [userId, total],
    );
    const expected = (await h.sql<{ id: string }>('SELECT id FROM privacy_requests WHERE user_id = $1 ORDER BY created_at DESC, id DESC', [userId])).map((row) => row.id);
    const pages: string[][] = [];
    let before: string | undefined;
    for (;;) {
      const page = await h.call(ListPrivacyRequestsRoute, before === undefined ? {} : { before }, as(userId));
      pages.push(page.items.map((item) => item.id));
      if (page.items.length < RetentionRpc.PRIVACY_REQUESTS_PAGE_SIZE) break;
      before = page.items.at(-1)!.id;
    }
    expect(pages.map((page) => page.length)).toEqual([100, 100, 30]);
    expect(pages.flat()).toEqual(expected);
    // Another user's id as the cursor says nothing: an empty page.
    const stranger = newUser();
    await expect(h.call(ListPrivacyRequestsRoute, { before: expected[0]! }, as(stranger))).resolves.toEqual({ items: [] });
    await expect(h.call(ListPrivacyRequestsRoute, { before: 'not-an-id' }, as(userId))).rejects.toMatchObject({ status: 400 });
  });

  it('unauthenticated is 401; another user’s request is 404 to get and to withdraw', async () => {
    const owner = newUser();
    const stranger = newUser();
    const mine = await create(owner, 'restriction');
    await expect(h.call(CreatePrivacyRequestRoute, { type: 'access', regime: 'gdpr' })).rejects.toMatchObject({ status: 401 });
    await expect(h.call(GetPrivacyRequestRoute, { id: mine.id }, as(stranger))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(h.call(WithdrawPrivacyRequestRoute, { id: mine.id }, as(stranger))).rejects.toMatchObject({ status: 404 });
    await expect(h.call(GetPrivacyRequestRoute, { id: mine.id }, as(owner))).resolves.toMatchObject({ id: mine.id, status: 'in_force' });
  });
});

describe('one open request per type: a duplicate answers the open one', () => {
  it('sequential and concurrent duplicates of a restriction give one row and one ProcessingRestrictionChanged', async () => {
    const userId = newUser();
    const first = await create(userId, 'restriction');
    const second = await create(userId, 'restriction');
    expect(second).toEqual(first);

    const other = newUser();
    const concurrent = await Promise.all(Array.from({ length: 12 }, () => create(other, 'restriction')));
    expect(new Set(concurrent.map((request) => request.id)).size).toBe(1);
    expect(await rowsOf(other, 'restriction')).toHaveLength(1);
    const history = await h.sql<{ n: number }>('SELECT count(*)::int AS n FROM privacy_request_history WHERE request_id = $1', [concurrent[0]!.id]);
    expect(history[0]!.n).toBe(1);
    expect(await restrictionEvents(other)).toEqual([expect.objectContaining({ userId: other, restricted: true })]);
  });

  it('concurrent erasure requests with the password: one request, one erasure', async () => {
    const userId = newUser();
    const answers = await Promise.all(Array.from({ length: 8 }, () => create(userId, 'erasure', { password: passwords.get(userId)! })));
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: 'in_progress', erasureId: erasures.get(userId) });
    expect(await rowsOf(userId, 'erasure')).toHaveLength(1);
  });
});

describe('erasure needs the password', () => {
  it('a wrong password on create: 401 invalid_credentials, nothing stored', async () => {
    const userId = newUser();
    await expect(create(userId, 'erasure', { password: 'not the password' })).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
    expect(await rowsOf(userId)).toHaveLength(0);
  });

  it('without it: awaiting verification; a duplicate without the password answers the waiting one, with a wrong one is 401; verify (wrong 401, right in_progress, again 409); completed when the erasure’s receipt is', async () => {
    const userId = newUser();
    const waiting = await create(userId, 'erasure');
    expect(waiting).toMatchObject({ type: 'erasure', status: 'awaiting_verification' });
    expect(waiting.erasureId).toBeUndefined();

    // A duplicate without the password answers the waiting one and starts nothing.
    const callsBefore = identityCalls.filter((id) => id === userId).length;
    expect(await create(userId, 'erasure')).toEqual(waiting);
    expect(identityCalls.filter((id) => id === userId).length).toBe(callsBefore);
    // With a wrong password it is verified — and refused: 401, still waiting, one row.
    await expect(create(userId, 'erasure', { password: 'not the password' })).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
    await expect(h.call(GetPrivacyRequestRoute, { id: waiting.id }, as(userId))).resolves.toMatchObject({ status: 'awaiting_verification' });

    await expect(h.call(VerifyPrivacyRequestRoute, { id: waiting.id, password: 'wrong password here' }, as(userId))).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
    await expect(h.call(GetPrivacyRequestRoute, { id: waiting.id }, as(userId))).resolves.toMatchObject({ status: 'awaiting_verification' });
    await expect(h.call(VerifyPrivacyRequestRoute, { id: waiting.id, password: passwords.get(userId)! }, as(newUser()))).rejects.toMatchObject({ status: 404 });

    const verified = await h.call(VerifyPrivacyRequestRoute, { id: waiting.id, password: passwords.get(userId)! }, as(userId));
    expect(verified).toMatchObject({ status: 'in_progress', erasureId: erasures.get(userId) });
    expect(verified.history.map((change) => change.status)).toEqual(['awaiting_verification', 'in_progress']);
    await expect(h.call(VerifyPrivacyRequestRoute, { id: waiting.id, password: passwords.get(userId)! }, as(userId))).rejects.toMatchObject({ status: 409, code: 'not_awaiting_verification' });
    await expect(h.call(WithdrawPrivacyRequestRoute, { id: waiting.id }, as(userId))).rejects.toMatchObject({ status: 409, code: 'not_withdrawable' });
    const restriction = await create(userId, 'restriction');
    await expect(h.call(VerifyPrivacyRequestRoute, { id: restriction.id, password: passwords.get(userId)! }, as(userId))).rejects.toMatchObject({ status: 409, code: 'not_awaiting_verification' });

    // The erasure completes (its receipt signed; the user unlinked by retention's purge).
    await h.sql(
      `INSERT INTO erasures (id, user_id, reason, status, requested_at, approved_at, deadline_at, completed_at, expected_services, jws)
       VALUES ($1, NULL, 'privacy_request', 'completed', now(), now(), now() + interval '1 day', now(), ARRAY['retention'], 'x.y.z')`,
      [erasures.get(userId)],
    );
    await h.sql('UPDATE privacy_requests SET user_id = NULL WHERE user_id = $1', [userId]);
    await h.get(AuditPrivacyRequests).run();
    const [done] = await h.sql<{ status: string; outcome: string; completed_at: Date | null }>('SELECT status, outcome, completed_at FROM privacy_requests WHERE id = $1', [waiting.id]);
    expect(done).toMatchObject({ status: 'completed', outcome: 'erased' });
    expect(done!.completed_at).not.toBeNull();
    const history = await h.sql<{ status: string }>('SELECT status FROM privacy_request_history WHERE request_id = $1 ORDER BY at, seq', [waiting.id]);
    expect(history.map((row) => row.status)).toEqual(['awaiting_verification', 'in_progress', 'completed']);
    // The erased user's restriction in force is closed too (nothing left to restrict).
    const [closed] = await h.sql<{ status: string; outcome: string }>('SELECT status, outcome FROM privacy_requests WHERE id = $1', [restriction.id]);
    expect(closed).toMatchObject({ status: 'lifted', outcome: 'account_erased' });
  });

  it('an erasure request with the password while one waits verifies the waiting one (no second request)', async () => {
    const userId = newUser();
    const waiting = await create(userId, 'erasure');
    const verified = await create(userId, 'erasure', { password: passwords.get(userId)! });
    expect(verified).toMatchObject({ id: waiting.id, status: 'in_progress', erasureId: erasures.get(userId) });
    expect(verified.history.map((change) => change.status)).toEqual(['awaiting_verification', 'in_progress']);
    expect(await rowsOf(userId, 'erasure')).toHaveLength(1);
  });

  it('verify racing withdraw or a second verify: the loser answers 409 and never reaches identity', async () => {
    const userId = newUser();
    const waiting = await create(userId, 'erasure');
    slowIdentity.add(userId);
    const verifying = h.call(VerifyPrivacyRequestRoute, { id: waiting.id, password: passwords.get(userId)! }, as(userId));
    await eventually(() => identityCalls.includes(userId), { what: 'identity to be asked' });
    const [withdraw, secondVerify] = await Promise.allSettled([
      h.call(WithdrawPrivacyRequestRoute, { id: waiting.id }, as(userId)),
      h.call(VerifyPrivacyRequestRoute, { id: waiting.id, password: passwords.get(userId)! }, as(userId)),
    ]);
    await expect(verifying).resolves.toMatchObject({ status: 'in_progress', erasureId: erasures.get(userId) });
    expect(withdraw).toMatchObject({ status: 'rejected', reason: { status: 409, code: 'not_withdrawable' } });
    expect(secondVerify).toMatchObject({ status: 'rejected', reason: { status: 409, code: 'not_awaiting_verification' } });
    expect(identityCalls.filter((id) => id === userId)).toHaveLength(1);
    await expect(h.call(GetPrivacyRequestRoute, { id: waiting.id }, as(userId))).resolves.toMatchObject({ status: 'in_progress' });
    slowIdentity.delete(userId);
  });

  it('a waiting erasure request can be withdrawn (recorded), and a new one made after', async () => {
    const userId = newUser();
    const waiting = await create(userId, 'erasure');
    const withdrawn = await h.call(WithdrawPrivacyRequestRoute, { id: waiting.id }, as(userId));
    expect(withdrawn).toMatchObject({ status: 'withdrawn', outcome: 'withdrawn' });
    expect(withdrawn.history.map((change) => change.status)).toEqual(['awaiting_verification', 'withdrawn']);
    const fresh = await create(userId, 'erasure');
    expect(fresh.id).not.toBe(waiting.id);
  });
});

describe('restriction and objection (R7.3)', () => {
  it('in force at once; announced only when the first comes into force and when the last is lifted; lifting is recorded', async () => {
    const userId = newUser();
    const restriction = await create(userId, 'restriction');
    expect(restriction).toMatchObject({ status: 'in_force', outcome: 'restricted' });
    const objection = await create(userId, 'objection');
    expect(objection.status).toBe('in_force');
    expect((await restrictionEvents(userId)).map((event) => event.restricted)).toEqual([true]);

    const lifted = await h.call(WithdrawPrivacyRequestRoute, { id: restriction.id }, as(userId));
    expect(lifted).toMatchObject({ status: 'lifted', outcome: 'lifted' });
    expect(lifted.completedAt).toBeDefined();
    expect(lifted.history.map((change) => change.status)).toEqual(['in_force', 'lifted']);
    expect((await restrictionEvents(userId)).map((event) => event.restricted)).toEqual([true]);

    await h.call(WithdrawPrivacyRequestRoute, { id: objection.id }, as(userId));
    const events = await restrictionEvents(userId);
    expect(events.map((event) => event.restricted)).toEqual([true, false]);
    expect(new Date(events[1]!.changedAt).getTime()).toBeGreaterThanOrEqual(new Date(events[0]!.changedAt).getTime());

    await expect(h.call(WithdrawPrivacyRequestRoute, { id: objection.id }, as(userId))).rejects.toMatchObject({ status: 409, code: 'not_withdrawable' });
    // A new restriction after the lift is a new request, announced again.
    const again = await create(userId, 'restriction');
    expect(again.id).not.toBe(restriction.id);
    expect((await restrictionEvents(userId)).map((event) => event.restricted)).toEqual([true, false, true]);
  });

  it('lifting a restriction and an objection at once still announces the lift', async () => {
    const userId = newUser();
    const a = await create(userId, 'restriction');
    const b = await create(userId, 'objection');
    await Promise.all([h.call(WithdrawPrivacyRequestRoute, { id: a.id }, as(userId)), h.call(WithdrawPrivacyRequestRoute, { id: b.id }, as(userId))]);
    expect((await restrictionEvents(userId)).map((event) => event.restricted)).toEqual([true, false]);
  });

  it('a completed request is not withdrawable', async () => {
    const userId = newUser();
    const consent = await create(userId, 'consent_withdrawal');
    await expect(h.call(WithdrawPrivacyRequestRoute, { id: consent.id }, as(userId))).rejects.toMatchObject({ status: 409, code: 'not_withdrawable' });
  });
});

describe('operators: the overdue list and the gauge', () => {
  it('users are refused; overdue = not final and past due (a restriction in force is carried out, never overdue)', async () => {
    const userId = newUser();
    await expect(h.call(AdminListPrivacyRequestsRoute, { overdue: false }, as(userId))).rejects.toMatchObject({ status: 403, code: 'forbidden' });

    const operator = { userId: randomUUID(), role: 'operator' as const };
    const waiting = await create(userId, 'erasure');
    const restriction = await create(userId, 'restriction');
    const ccpaWaiting = await create(newUser(), 'erasure', { regime: 'ccpa' });
    const all = await h.call(AdminListPrivacyRequestsRoute, { overdue: false }, operator);
    expect(all.items.find((item) => item.id === waiting.id)).toMatchObject({ userId, overdue: false, status: 'awaiting_verification' });
    expect(all.items[0]!.createdAt >= all.items.at(-1)!.createdAt).toBe(true);
    expect((await h.call(AdminListPrivacyRequestsRoute, { overdue: true }, operator)).items.map((item) => item.id)).not.toContain(waiting.id);

    h.advanceClock(31 * DAY_MS);
    const overdue = await h.call(AdminListPrivacyRequestsRoute, { overdue: true }, operator);
    const ids = overdue.items.map((item) => item.id);
    expect(ids).toContain(waiting.id);
    expect(ids).not.toContain(restriction.id);
    expect(ids).not.toContain(ccpaWaiting.id);
    expect(overdue.items.every((item) => item.overdue)).toBe(true);

    await h.get(AuditPrivacyRequests).run();
    const metrics = await h.instances[0]!.service.app.get(ServiceMetrics).metricsText();
    const overdueErasures = Number(/retention_privacy_requests_open\{type="erasure",state="overdue"[^}]*\} (\d+)/.exec(metrics)?.[1]);
    expect(overdueErasures).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/retention_privacy_requests_open\{type="restriction",state="overdue"[^}]*\} 0/);
  });
});

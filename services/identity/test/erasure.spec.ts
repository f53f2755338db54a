import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErasureApprovedV1, ErasureRequestedV1, IdentityRpc, InactiveAccountDueV1, PurgeCompletedV1, UserDeletedV1, type CallerContext } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { IdentityExportSliceRoute } from '../src/identity.handlers.js';
import { startHarness, type Harness } from './harness.js';

// Issue 11, identity's side: an erasure asked for disables the account at once and is
// announced (ErasureRequested); the account is deleted only on retention's ErasureApproved.
// The identity service runs as it does in production (transport, consumers), on the real
// PostgreSQL and NATS; the tests speak its routes as the gateway and retention would and
// publish retention's events.

const PASSWORD = 'a long and uncommon passphrase';
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

let counter = 0;
async function registered(): Promise<{ id: string; email: string; username: string; login: () => ReturnType<typeof logIn> }> {
  counter++;
  const tag = `${randomUUID().slice(0, 8)}${counter}`;
  const email = `user.${tag}@example.com`;
  const { user } = await h.call(IdentityRpc.RegisterRoute, { email, username: `user_${tag}`, password: PASSWORD, ageConfirmed: true });
  return { id: user.id, email, username: user.username, login: () => logIn(email) };
}
function logIn(login: string, password = PASSWORD) {
  return h.call(IdentityRpc.LoginRoute, { login, password });
}
async function failure(promise: Promise<unknown>): Promise<{ status: number; code: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { status: number; code: string },
  );
  expect(error, 'expected the call to fail').toBeDefined();
  return { status: error!.status, code: error!.code };
}
const asUser = (userId: string): Partial<CallerContext> => ({ userId, role: 'user' });
const asOperator = (): Partial<CallerContext> => ({ userId: randomUUID(), role: 'operator' });
const row = async (userId: string) => (await h.sql<{ erasure_id: string | null; erasure_reason: string | null; blocked_at: Date | null }>('SELECT erasure_id, erasure_reason, blocked_at FROM identity.users WHERE id = $1', [userId]))[0];
const count = async (query: string, params: unknown[]) => (await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM (${query}) q`, params))[0]!.n;
async function requestsFor(userId: string) {
  return (await h.events(ErasureRequestedV1)).filter((event) => event.userId === userId);
}
async function approve(userId: string, erasureId: string): Promise<string> {
  const messageId = await h.publish(ErasureApprovedV1, { userId, erasureId, approvedAt: new Date().toISOString() });
  await eventually(() => h.processed(messageId), { what: 'ErasureApproved handled' });
  return messageId;
}

describe('DELETE /v1/me asks for the erasure; ErasureApproved erases', () => {
  it('a wrong password is 401 and changes nothing', async () => {
    const user = await registered();
    await user.login();
    expect(await failure(h.call(IdentityRpc.DeleteAccountRoute, { password: 'not the password at all' }, asUser(user.id)))).toEqual({ status: 401, code: 'invalid_credentials' });
    expect((await row(user.id))!.erasure_id).toBeNull();
    await user.login();
  });

  it('disables the account at once, deletes nothing, announces ErasureRequested; the approval deletes and announces UserDeleted', async () => {
    const user = await registered();
    const tokens = await user.login();
    await h.call(IdentityRpc.PasswordResetRequestRoute, { email: user.email });
    const resetMail = await h.mail.waitFor((message) => message.to.includes(user.email) && message.subject.includes('Reset'));
    const resetToken = /token=([A-Za-z0-9_-]+)/.exec(resetMail.text)![1]!;
    const { erasureId } = await h.call(IdentityRpc.DeleteAccountRoute, { password: PASSWORD }, asUser(user.id));

    // Disabled: no login (as for an unknown account, whatever the password), no refresh, no profile, every token revoked.
    expect(await failure(user.login())).toEqual({ status: 401, code: 'invalid_credentials' });
    expect(await failure(logIn(user.username, 'not the password at all'))).toEqual({ status: 401, code: 'invalid_credentials' });
    expect(await failure(h.call(IdentityRpc.RefreshRoute, { refreshToken: tokens.refreshToken }))).toEqual({ status: 401, code: 'invalid_refresh_token' });
    expect(await failure(h.call(IdentityRpc.GetProfileRoute, {}, asUser(user.id)))).toEqual({ status: 401, code: 'unauthorized' });
    expect(await failure(h.call(IdentityRpc.PasswordResetConfirmRoute, { token: resetToken, password: 'a fine new passphrase' }))).toEqual({ status: 400, code: 'invalid_reset_token' });
    expect(await h.userRevoked(user.id)).toBe(true);
    expect(await count('SELECT 1 FROM identity.sessions WHERE user_id = $1', [user.id])).toBe(0);
    // Not erased: the account row is there, recorded as pending, and nothing says UserDeleted.
    expect(await row(user.id)).toMatchObject({ erasure_id: erasureId, erasure_reason: 'user_request' });
    await eventually(async () => (await requestsFor(user.id)).length === 1, { what: 'ErasureRequested announced' });
    expect((await requestsFor(user.id))[0]).toMatchObject({ userId: user.id, erasureId, reason: 'user_request' });
    expect((await h.events(UserDeletedV1)).filter((event) => event.userId === user.id)).toHaveLength(0);

    // Retention approves: the account goes, UserDeleted and identity's receipt carry the erasureId.
    await approve(user.id, erasureId);
    expect(await row(user.id)).toBeUndefined();
    expect(await count('SELECT 1 FROM identity.security_events WHERE user_id = $1', [user.id])).toBe(0);
    expect(await count('SELECT 1 FROM identity.tombstones WHERE user_id = $1', [user.id])).toBe(1);
    await eventually(async () => (await h.events(UserDeletedV1)).some((event) => event.userId === user.id), { what: 'UserDeleted announced' });
    expect((await h.events(UserDeletedV1)).filter((event) => event.userId === user.id)).toEqual([expect.objectContaining({ erasureId, reason: 'user_request' })]);
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((event) => event.erasureId === erasureId && event.service === 'identity'), { what: 'identity receipt' });

    // A redelivered (or duplicate) approval finds the account gone and changes nothing.
    await approve(user.id, erasureId);
    await approve(user.id, erasureId);
    expect((await h.events(UserDeletedV1)).filter((event) => event.userId === user.id)).toHaveLength(1);
    expect((await h.events(PurgeCompletedV1)).filter((event) => event.erasureId === erasureId)).toHaveLength(1);
  });

  it('asked again while pending, or several times at once: one erasure, one erasureId, one ErasureRequested', async () => {
    const user = await registered();
    const answers = await Promise.all([1, 2, 3].map(() => h.call(IdentityRpc.DeleteAccountRoute, { password: PASSWORD }, asUser(user.id))));
    const ids = new Set(answers.map((answer) => answer.erasureId));
    expect(ids.size).toBe(1);
    const again = await h.call(IdentityRpc.DeleteAccountRoute, { password: PASSWORD }, asUser(user.id));
    expect(ids.has(again.erasureId)).toBe(true);
    await eventually(async () => (await count("SELECT 1 FROM identity.outbox WHERE type = 'ErasureRequested.v1' AND payload->>'userId' = $1", [user.id])) === 0, { what: 'outbox relayed' });
    expect(await requestsFor(user.id)).toHaveLength(1);
  });

  it('an approval for an erasure that is not the account’s open one deletes nothing', async () => {
    const user = await registered();
    await approve(user.id, randomUUID());
    expect(await row(user.id)).toBeDefined();
    await user.login();
  });
});

describe('a privacy request of type erasure (retention’s RequestErasureRoute)', () => {
  it('needs the password (401), names an unknown user (404), then takes the same path with reason privacy_request', async () => {
    const user = await registered();
    expect(await failure(h.call(IdentityRpc.RequestErasureRoute, { userId: user.id, password: 'not the password at all' }))).toEqual({ status: 401, code: 'invalid_credentials' });
    expect((await row(user.id))!.erasure_id).toBeNull();
    expect(await failure(h.call(IdentityRpc.RequestErasureRoute, { userId: randomUUID(), password: PASSWORD }))).toEqual({ status: 404, code: 'user_not_found' });
    const { erasureId } = await h.call(IdentityRpc.RequestErasureRoute, { userId: user.id, password: PASSWORD });
    expect(await row(user.id)).toMatchObject({ erasure_id: erasureId, erasure_reason: 'privacy_request' });
    // A duplicate request answers the open erasure — and is verified all the same.
    expect(await failure(h.call(IdentityRpc.RequestErasureRoute, { userId: user.id, password: 'not the password at all' }))).toEqual({ status: 401, code: 'invalid_credentials' });
    expect((await h.call(IdentityRpc.RequestErasureRoute, { userId: user.id, password: PASSWORD })).erasureId).toBe(erasureId);
    await eventually(async () => (await requestsFor(user.id)).length === 1, { what: 'ErasureRequested announced' });
    expect((await requestsFor(user.id))[0]!.reason).toBe('privacy_request');
  });

  it('answers the erasure already opened by DELETE /v1/me', async () => {
    const user = await registered();
    const { erasureId } = await h.call(IdentityRpc.DeleteAccountRoute, { password: PASSWORD }, asUser(user.id));
    expect((await h.call(IdentityRpc.RequestErasureRoute, { userId: user.id, password: PASSWORD })).erasureId).toBe(erasureId);
  });
});

describe('operators', () => {
  it('erase: 403 for a non-operator, 404 for an unknown user; records who and why in identity only; the same erasureId when asked again', async () => {
    const user = await registered();
    expect(await failure(h.call(IdentityRpc.AdminEraseUserRoute, { userId: user.id, reason: 'minor (§13.2)' }, asUser(randomUUID())))).toEqual({ status: 403, code: 'forbidden' });
    expect(await failure(h.call(IdentityRpc.AdminEraseUserRoute, { userId: user.id, reason: 'minor (§13.2)' }, { userId: randomUUID() }))).toEqual({ status: 403, code: 'forbidden' });
    expect((await row(user.id))!.erasure_id).toBeNull();
    expect(await failure(h.call(IdentityRpc.AdminEraseUserRoute, { userId: randomUUID(), reason: 'minor (§13.2)' }, asOperator()))).toEqual({ status: 404, code: 'user_not_found' });

    const operator = asOperator();
    const reason = `minor (§13.2), ticket ${randomUUID()}`;
    const { erasureId } = await h.call(IdentityRpc.AdminEraseUserRoute, { userId: user.id, reason }, operator);
    expect(await row(user.id)).toMatchObject({ erasure_id: erasureId, erasure_reason: 'operator' });
    expect(await failure(user.login())).toEqual({ status: 401, code: 'invalid_credentials' });
    const [recorded] = await h.sql<{ operator_user_id: string; detail: string }>("SELECT operator_user_id, detail FROM identity.security_events WHERE user_id = $1 AND type = 'erasure_requested'", [user.id]);
    expect(recorded).toEqual({ operator_user_id: operator.userId, detail: reason });
    expect((await h.call(IdentityRpc.AdminEraseUserRoute, { userId: user.id, reason: 'again' }, asOperator())).erasureId).toBe(erasureId);
    await eventually(async () => (await requestsFor(user.id)).length === 1, { what: 'ErasureRequested announced' });
    // The reason text travels in no event.
    expect(JSON.stringify(await requestsFor(user.id))).not.toContain('ticket');

    // Erased: the events stay unlinked, the operator's note about the person goes with the account.
    await approve(user.id, erasureId);
    expect(await count('SELECT 1 FROM identity.security_events WHERE detail = $1', [reason])).toBe(0);
  });

  it('block: 403 for a non-operator, 404 for an unknown user; blocks with reason operator; again, or on an account pending erasure, changes nothing', async () => {
    const user = await registered();
    expect(await failure(h.call(IdentityRpc.AdminBlockUserRoute, { userId: user.id, reason: 'abuse' }, asUser(user.id)))).toEqual({ status: 403, code: 'forbidden' });
    expect(await failure(h.call(IdentityRpc.AdminBlockUserRoute, { userId: randomUUID(), reason: 'abuse' }, asOperator()))).toEqual({ status: 404, code: 'user_not_found' });
    expect((await row(user.id))!.blocked_at).toBeNull();
    expect(await h.call(IdentityRpc.AdminBlockUserRoute, { userId: user.id, reason: 'abuse' }, asOperator())).toEqual({});
    expect((await row(user.id))!.blocked_at).toBeInstanceOf(Date);
    expect(await failure(user.login())).toEqual({ status: 403, code: 'account_blocked' });
    expect(await h.userRevoked(user.id)).toBe(true);
    expect(await h.call(IdentityRpc.AdminBlockUserRoute, { userId: user.id, reason: 'abuse' }, asOperator())).toEqual({});
    expect(await count("SELECT 1 FROM identity.security_events WHERE user_id = $1 AND type = 'account_blocked' AND detail = 'abuse'", [user.id])).toBe(1);

    const pending = await registered();
    const { erasureId } = await h.call(IdentityRpc.AdminEraseUserRoute, { userId: pending.id, reason: 'minor' }, asOperator());
    expect(await h.call(IdentityRpc.AdminBlockUserRoute, { userId: pending.id, reason: 'abuse' }, asOperator())).toEqual({});
    expect(await row(pending.id)).toMatchObject({ erasure_id: erasureId });
  });
});

describe('inactive accounts (§5.2): retention’s InactiveAccountDue', () => {
  const yearAgo = () => new Date(h.clock.now().getTime() - 366 * 86_400_000).toISOString().slice(0, 10);
  async function inactive(): Promise<Awaited<ReturnType<typeof registered>> & { lastSeenOn: string }> {
    const user = await registered();
    const lastSeenOn = yearAgo();
    await h.sql('UPDATE identity.users SET last_seen_on = $2::date WHERE id = $1', [user.id, lastSeenOn]);
    return { ...user, lastSeenOn };
  }
  async function due(userId: string, stage: 'warning' | 'erasure', lastSeenOn: string, erasureAt = '2030-02-03T00:00:00.000Z'): Promise<void> {
    const messageId = await h.publish(InactiveAccountDueV1, { userId, stage, lastSeenOn, erasureAt });
    await eventually(() => h.processed(messageId), { what: 'InactiveAccountDue handled' });
  }
  const mailsTo = (email: string) => h.mail.messages().filter((message) => message.to.includes(email));

  it('warning: one mail stating the erasure date, at most once per last-seen day', async () => {
    const user = await inactive();
    await due(user.id, 'warning', user.lastSeenOn, '2030-02-03T00:00:00.000Z');
    const mail = await h.mail.waitFor((message) => message.to.includes(user.email));
    expect(mail.subject).toContain('2030-02-03');
    expect(mail.text).toContain('2030-02-03');
    expect(mail.text).toContain(user.lastSeenOn);
    await due(user.id, 'warning', user.lastSeenOn);
    expect(mailsTo(user.email)).toHaveLength(1);
    // Used again and then unused again: a new period of inactivity, a new warning.
    const later = new Date(h.clock.now().getTime() - 200 * 86_400_000).toISOString().slice(0, 10);
    await h.sql('UPDATE identity.users SET last_seen_on = $2::date WHERE id = $1', [user.id, later]);
    await due(user.id, 'warning', later);
    expect(mailsTo(user.email)).toHaveLength(2);
    expect((await row(user.id))!.erasure_id).toBeNull();
  });

  it('a user who came back is neither warned nor erased', async () => {
    const user = await inactive();
    await user.login();
    await due(user.id, 'warning', user.lastSeenOn);
    await due(user.id, 'erasure', user.lastSeenOn);
    expect(mailsTo(user.email)).toHaveLength(0);
    expect((await row(user.id))!.erasure_id).toBeNull();
    await user.login();
  });

  it('erasure: the normal path with reason inactivity — disabled, ErasureRequested; a repeat changes nothing', async () => {
    const user = await inactive();
    await due(user.id, 'erasure', user.lastSeenOn);
    const recorded = await row(user.id);
    expect(recorded).toMatchObject({ erasure_reason: 'inactivity' });
    expect(await failure(user.login())).toEqual({ status: 401, code: 'invalid_credentials' });
    await due(user.id, 'erasure', user.lastSeenOn);
    await due(user.id, 'warning', user.lastSeenOn);
    expect(mailsTo(user.email)).toHaveLength(0);
    await eventually(async () => (await requestsFor(user.id)).length === 1, { what: 'ErasureRequested announced' });
    expect((await requestsFor(user.id))[0]).toMatchObject({ erasureId: recorded!.erasure_id, reason: 'inactivity' });
  });

  it('an event for an account already gone is dropped', async () => {
    await due(randomUUID(), 'erasure', yearAgo());
    await due(randomUUID(), 'warning', yearAgo());
  });
});

describe('identity’s export slice', () => {
  it('holds the account, its sessions and its security events — no hashes, nothing of another user', async () => {
    const user = await registered();
    const other = await registered();
    await h.call(IdentityRpc.LoginRoute, { login: user.email, password: PASSWORD }, { userAgent: 'Firefox 140 on Linux', ipHash: 'a'.repeat(64) });
    await other.login();
    const page = await h.call(IdentityExportSliceRoute, { userId: user.id }, { requestId: randomUUID() });
    expect(page.nextCursor).toBeNull();
    expect(page.files).toEqual([]);
    expect(page.collections.account).toEqual([
      expect.objectContaining({ id: user.id, email: user.email, username: user.username, role: 'user', blocked: false, erasure: null, prime: { active: false, expiresAt: null } }),
    ]);
    expect(page.collections.sessions).toEqual([expect.objectContaining({ userAgent: 'Firefox 140 on Linux', endedAt: null, lastUsedAt: expect.any(String) as string })]);
    expect(page.collections.security_events!.map((event) => event.type).sort()).toEqual(['login_succeeded', 'registered']);
    expect(page.collections.security_events).toContainEqual(expect.objectContaining({ type: 'login_succeeded', ipHash: 'a'.repeat(64) }));
    const text = JSON.stringify(page);
    expect(text).not.toContain(other.id);
    expect(text).not.toContain(other.email);
    expect(text).not.toMatch(/argon2|password|token_?hash/i);
  });

  it('pages a long history without losing or repeating an event, and answers empty collections for an unknown user', async () => {
    const user = await registered();
    await h.sql(
      "INSERT INTO identity.security_events (user_id, type, ip_hash, user_agent, occurred_at) SELECT $1, 'login_failed', repeat('b', 64), 'Some Browser 1.0 on Some OS', now() - make_interval(secs => g) FROM generate_series(1, 3000) g",
      [user.id],
    );
    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await h.call(IdentityExportSliceRoute, { userId: user.id, ...(cursor ? { cursor } : {}) });
      expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(300 * 1024);
      seen.push(...page.collections.security_events!);
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toHaveLength(3001);
    expect(new Set(seen.map((event) => event.occurredAt)).size).toBe(3001);
    expect(await failure(h.call(IdentityExportSliceRoute, { userId: user.id, cursor: 'security_events:not-a-key' }))).toEqual({ status: 400, code: 'invalid_cursor' });
    const empty = await h.call(IdentityExportSliceRoute, { userId: randomUUID() });
    expect(empty).toEqual({ collections: { account: [], sessions: [], security_events: [] }, files: [], nextCursor: null });
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@homiwork/api-client';
import { DeleteMe, ErasureRequestedV1, GetMe, LogIn, Register, UpdateMe, UserDeletedV1, type HttpRoute } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { startTestSystem, type TestSystem } from './support/test-system.js';

let system: TestSystem;
beforeAll(async () => {
  // Rate limits have their own suite (rate-limits.e2e.ts); here they would only get in the way.
  system = await startTestSystem({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '10000', RATE_LIMIT_WRITE_PER_MINUTE: '10000' } });
}, 90_000);
afterAll(async () => {
  await system?.stop();
});

const PASSWORD = 'a long and uncommon passphrase';
let counter = 0;
function newAccount() {
  counter++;
  const tag = `${randomUUID().slice(0, 8)}${counter}`;
  return { email: `user.${tag}@example.com`, username: `user_${tag}`, password: PASSWORD, ageConfirmed: true as const };
}

async function errorOf(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

async function rawCall(route: Pick<HttpRoute, 'method' | 'path' | 'auth'>, body: unknown, token?: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const answer = await system.api(token ? { token } : {}).raw(route, { body });
  return { status: answer.status, body: answer.body as { error?: { code: string; message: string } } };
}

async function userCount(): Promise<number> {
  const [row] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM identity.users');
  return row!.n;
}

async function registerAndLogIn() {
  const account = newAccount();
  const { user } = await system.api().accounts.register(account);
  const tokens = await system.api().accounts.login({ login: account.email, password: PASSWORD });
  return { account, user, tokens };
}

describe('POST /v1/auth/register', () => {
  it('creates an account and answers 201 with id, email, username, createdAt — and no password', async () => {
    const account = newAccount();
    const answer = await system.api().raw(Register, { body: account });
    expect(answer.status).toBe(201);
    const { user } = answer.body as { user: Record<string, unknown> };
    expect(Object.keys(user).sort()).toEqual(['createdAt', 'email', 'id', 'username']);
    expect(user.email).toBe(account.email);
    const [row] = await system.sql<{ password_hash: string; role: string }>('SELECT password_hash, role FROM identity.users WHERE id = $1', [user.id]);
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
    expect(row!.role).toBe('user');
  });

  it('answers 409 email_taken for an email differing only in case, and 409 username_taken', async () => {
    const account = newAccount();
    await system.api().accounts.register(account);
    const before = await userCount();
    expect((await errorOf(system.api().accounts.register({ ...newAccount(), email: account.email.toUpperCase() }))).code).toBe('email_taken');
    expect((await errorOf(system.api().accounts.register({ ...newAccount(), username: account.username.toUpperCase() }))).code).toBe('username_taken');
    expect(await userCount()).toBe(before);
  });

  const invalid: Array<[string, unknown, string]> = [
    ['ageConfirmed false', { ...newAccount(), ageConfirmed: false }, 'ageConfirmed: must be true'],
    ['ageConfirmed absent', { email: 'x1@example.com', username: 'x1user', password: PASSWORD }, 'ageConfirmed: must be true'],
    ['a missing email', { username: 'x2user', password: PASSWORD, ageConfirmed: true }, 'email: is required'],
    ['an email that is not one', { ...newAccount(), email: 'not-an-email' }, 'email: must be an email address'],
    ['an over-long email', { ...newAccount(), email: `${'a'.repeat(250)}@example.com` }, 'email: must be at most 254'],
    ['an over-long username', { ...newAccount(), username: 'u'.repeat(33) }, 'username: must be at most 32'],
    ['a password under 8 characters', { ...newAccount(), password: 'short' }, 'password: must be at least 8'],
    ['a password over 1024 characters', { ...newAccount(), password: 'p'.repeat(1025) }, 'password: must be at most 1024'],
    ['an unknown field (no role can be asked for)', { ...newAccount(), role: 'operator' }, 'has unknown field role'],
  ];
  for (const [what, body, message] of invalid) {
    it(`refuses ${what} with 400 naming the field, storing nothing`, async () => {
      const before = await userCount();
      const answer = await rawCall(Register, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error?.code).toBe('validation_failed');
      expect(answer.body.error?.message).toContain(message);
      expect(await userCount()).toBe(before);
    });
  }

  it('refuses a common password with 400 weak_password', async () => {
    const answer = await rawCall(Register, { ...newAccount(), password: 'password123' });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('weak_password');
  });

  it('refuses malformed JSON with 400 invalid_json', async () => {
    const response = await fetch(`${system.gateways[0]}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email": "a@example.com",' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });

  it('refuses a body over the size limit with 413', async () => {
    const response = await fetch(`${system.gateways[0]}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...newAccount(), pad: 'x'.repeat(100_000) }) });
    expect(response.status).toBe(413);
  });
});

describe('POST /v1/auth/login', () => {
  it('logs in by email and by username with short-lived tokens', async () => {
    const account = newAccount();
    await system.api().accounts.register(account);
    const byEmail = await system.api().accounts.login({ login: account.email.toUpperCase(), password: PASSWORD });
    const byUsername = await system.api().accounts.login({ login: account.username, password: PASSWORD });
    expect(byEmail.expiresIn).toBeLessThanOrEqual(900);
    expect(byUsername.accessToken).not.toBe(byEmail.accessToken);
  });

  it('answers 401 invalid_credentials alike for a wrong password and an unknown login', async () => {
    const account = newAccount();
    await system.api().accounts.register(account);
    const wrong = await errorOf(system.api().accounts.login({ login: account.email, password: 'not the password at all' }));
    const unknown = await errorOf(system.api().accounts.login({ login: `nobody.${randomUUID()}@example.com`, password: 'not the password at all' }));
    expect([wrong.status, wrong.code, wrong.message]).toEqual([unknown.status, unknown.code, unknown.message]);
    expect(wrong.status).toBe(401);
  });
});

describe('POST /v1/auth/refresh and /logout', () => {
  it('rotates the refresh token; the old one used again answers 401 and revokes the whole family', async () => {
    const { tokens } = await registerAndLogIn();
    const second = await system.api().accounts.refresh(tokens.refreshToken);
    expect(second.refreshToken).not.toBe(tokens.refreshToken);
    await system.api({ token: second.accessToken }).accounts.me();

    expect((await errorOf(system.api().accounts.refresh(tokens.refreshToken))).status).toBe(401);
    // The family is gone: the newest refresh token and the session's access tokens too.
    expect((await errorOf(system.api().accounts.refresh(second.refreshToken))).code).toBe('invalid_refresh_token');
    await eventually(async () => (await system.api({ token: second.accessToken }).raw(GetMe)).status === 401, { what: 'access token revoked' });
  });

  it('logout answers 204 and really ends the session', async () => {
    const { tokens } = await registerAndLogIn();
    await system.api().accounts.logout(tokens.refreshToken);
    expect((await errorOf(system.api().accounts.refresh(tokens.refreshToken))).status).toBe(401);
    await eventually(async () => (await system.api({ token: tokens.accessToken }).raw(GetMe)).status === 401, { what: 'access token revoked' });
  });
});

describe('password reset', () => {
  it('answers 202 whether or not the email exists, and mails a one-time link only to a registered address', async () => {
    const { account } = await registerAndLogIn();
    const unknown = `nobody.${randomUUID()}@example.com`;
    const forUnknown = await system.api().raw({ method: 'POST', path: '/v1/auth/password-reset', auth: 'public' }, { body: { email: unknown } });
    const forKnown = await system.api().raw({ method: 'POST', path: '/v1/auth/password-reset', auth: 'public' }, { body: { email: account.email } });
    expect([forUnknown.status, forUnknown.body]).toEqual([forKnown.status, forKnown.body]);
    expect(forKnown.status).toBe(202);
    const mail = await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === account.email.toLowerCase()));
    expect(system.mail.messages().some((message) => message.to.includes(unknown))).toBe(false);
    expect(mail.text).not.toContain(PASSWORD);
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail.text)![1]!;

    const oldSession = await system.api().accounts.login({ login: account.email, password: PASSWORD });
    await system.api().accounts.confirmPasswordReset(token, 'an entirely new passphrase');
    expect((await errorOf(system.api().accounts.login({ login: account.email, password: PASSWORD }))).status).toBe(401);
    await system.api().accounts.login({ login: account.email, password: 'an entirely new passphrase' });
    // Single use, and every earlier session ended.
    expect((await errorOf(system.api().accounts.confirmPasswordReset(token, 'yet another passphrase'))).code).toBe('invalid_reset_token');
    expect((await errorOf(system.api().accounts.refresh(oldSession.refreshToken))).status).toBe(401);
  });

  it('refuses an expired link', async () => {
    const { account } = await registerAndLogIn();
    system.mail.clear();
    await system.api().accounts.requestPasswordReset(account.email);
    const mail = await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === account.email.toLowerCase()));
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail.text)![1]!;
    await system.setClockOffset(31 * 60_000);
    expect((await errorOf(system.api().accounts.confirmPasswordReset(token, 'an entirely new passphrase'))).code).toBe('invalid_reset_token');
  });
});

describe('GET and PATCH /v1/me', () => {
  it('returns the profile with Prime status and energy', async () => {
    const { user, tokens } = await registerAndLogIn();
    const me = await system.api({ token: tokens.accessToken }).accounts.me();
    expect(me).toMatchObject({ id: user.id, email: user.email, username: user.username, prime: { active: false, expiresAt: null } });
    expect(me).toHaveProperty('energy');
  });

  it('answers 401 without a token', async () => {
    const answer = await system.api().raw(GetMe);
    expect(answer.status).toBe(401);
    expect((answer.body as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('changes email and username, and refuses taken ones with 409', async () => {
    const first = await registerAndLogIn();
    const second = await registerAndLogIn();
    const fresh = newAccount();
    const me = await system.api({ token: first.tokens.accessToken }).accounts.updateMe({ email: fresh.email, username: fresh.username, currentPassword: PASSWORD });
    expect(me).toMatchObject({ email: fresh.email, username: fresh.username });
    await system.api().accounts.login({ login: fresh.username, password: PASSWORD });
    expect((await errorOf(system.api({ token: second.tokens.accessToken }).accounts.updateMe({ email: fresh.email.toUpperCase(), currentPassword: PASSWORD }))).code).toBe('email_taken');
    expect((await errorOf(system.api({ token: second.tokens.accessToken }).accounts.updateMe({ username: fresh.username }))).code).toBe('username_taken');
    const empty = await rawCall(UpdateMe, {}, second.tokens.accessToken);
    expect(empty.status).toBe(400);
  });

  it('changes the email only with the current password, then ends the other sessions and reset links and tells the old address', async () => {
    const { account, user, tokens } = await registerAndLogIn();
    const otherDevice = await system.api().accounts.login({ login: account.username, password: PASSWORD });
    await system.api().accounts.requestPasswordReset(account.email);
    const resetMail = await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === account.email.toLowerCase()) && message.text.includes('token='));
    const resetToken = /token=([A-Za-z0-9_-]+)/.exec(resetMail.text)![1]!;
    const fresh = newAccount();
    const emailOf = async () => (await system.sql<{ email: string }>('SELECT email FROM identity.users WHERE id = $1', [user.id]))[0]!.email;

    const withoutPassword = await rawCall(UpdateMe, { email: fresh.email }, tokens.accessToken);
    expect(withoutPassword.status).toBe(400);
    expect(withoutPassword.body.error?.code).toBe('validation_failed');
    expect(withoutPassword.body.error?.message).toContain('currentPassword');

    const wrongPassword = await rawCall(UpdateMe, { email: fresh.email, currentPassword: 'not the password at all' }, tokens.accessToken);
    expect([wrongPassword.status, wrongPassword.body.error?.code]).toEqual([401, 'invalid_credentials']);
    expect(await emailOf()).toBe(account.email);
    // Nothing changed: the other device's session still refreshes.
    const otherRotated = await system.api().accounts.refresh(otherDevice.refreshToken);

    const me = await system.api({ token: tokens.accessToken }).accounts.updateMe({ email: fresh.email, currentPassword: PASSWORD });
    expect(me.email).toBe(fresh.email);
    expect(await emailOf()).toBe(fresh.email);
    expect((await errorOf(system.api().accounts.refresh(otherRotated.refreshToken))).code).toBe('invalid_refresh_token');
    expect((await errorOf(system.api().accounts.confirmPasswordReset(resetToken, 'an entirely new passphrase'))).code).toBe('invalid_reset_token');
    const notice = await system.mail.waitFor((message) => message.to.some((to) => to.toLowerCase() === account.email.toLowerCase()) && message.subject.includes('email address'));
    expect(notice.text).not.toContain(fresh.email);
    await system.api().accounts.login({ login: fresh.email, password: PASSWORD });
    // The session that made the change goes on.
    expect((await system.api({ token: tokens.accessToken }).accounts.me()).email).toBe(fresh.email);
    await system.api().accounts.refresh(tokens.refreshToken);
  });
});

describe('DELETE /v1/me', () => {
  it('needs the password, then disables the account at once; retention approves and the account is erased: no rows, UserDeleted and a receipt announced', async () => {
    const { account, user, tokens } = await registerAndLogIn();
    const wrong = await rawCall(DeleteMe, { password: 'not the password at all' }, tokens.accessToken);
    expect(wrong.status).toBe(401);

    const answer = await system.api({ token: tokens.accessToken }).raw(DeleteMe, { body: { password: PASSWORD } });
    expect(answer.status).toBe(202);
    const { erasureId } = answer.body as { erasureId: string };
    expect(erasureId).toMatch(/^[0-9a-f-]{36}$/);

    // Disabled at once (before any approval): no login — as for an unknown account — no refresh, no token.
    expect((await errorOf(system.api().accounts.login({ login: account.email, password: PASSWORD }))).status).toBe(401);
    expect((await errorOf(system.api().accounts.refresh(tokens.refreshToken))).status).toBe(401);
    await eventually(async () => (await system.api({ token: tokens.accessToken }).raw(GetMe)).status === 401, { what: 'token of the account being erased refused' });
    await eventually(async () => (await system.events(ErasureRequestedV1)).some((event) => event.erasureId === erasureId && event.reason === 'user_request'), { what: 'ErasureRequested announced' });

    // Retention approves (no legal hold): identity erases and announces UserDeleted with the same erasureId.
    await eventually(async () => (await system.sql('SELECT 1 FROM identity.users WHERE id = $1', [user.id])).length === 0, { timeoutMs: 20_000, what: 'account erased on approval' });
    for (const table of ['sessions', 'password_reset_tokens']) {
      expect(await system.sql(`SELECT 1 FROM identity.${table} WHERE user_id = $1`, [user.id]), table).toHaveLength(0);
    }
    expect(await system.sql('SELECT 1 FROM identity.security_events WHERE user_id = $1', [user.id])).toHaveLength(0);
    await eventually(async () => (await system.events(UserDeletedV1)).some((event) => event.userId === user.id && event.erasureId === erasureId), { what: 'UserDeleted announced' });
    // The outbox was relayed: nothing of this erasure is left waiting.
    await eventually(async () => (await system.sql("SELECT 1 FROM identity.outbox WHERE type IN ('ErasureRequested.v1', 'UserDeleted.v1', 'PurgeCompleted.v1')")).length === 0, { what: 'events relayed' });
  });

  it('asks once when the request is sent several times at once: every 202 names the same erasure (late copies may be 401), one ErasureRequested, one UserDeleted', async () => {
    const { user, tokens } = await registerAndLogIn();
    const answers = await Promise.all([1, 2, 3].map(() => system.api({ token: tokens.accessToken }).raw(DeleteMe, { body: { password: PASSWORD } })));
    const accepted = answers.filter((answer) => answer.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(answers.every((answer) => answer.status === 202 || answer.status === 401)).toBe(true);
    expect(new Set(accepted.map((answer) => (answer.body as { erasureId: string }).erasureId)).size).toBe(1);
    await eventually(async () => (await system.events(UserDeletedV1)).some((event) => event.userId === user.id), { timeoutMs: 20_000, what: 'UserDeleted announced' });
    expect((await system.events(ErasureRequestedV1)).filter((event) => event.userId === user.id)).toHaveLength(1);
    expect((await system.events(UserDeletedV1)).filter((event) => event.userId === user.id)).toHaveLength(1);
  });
});

describe('login of a blocked account', () => {
  it('is refused with 403 account_blocked', async () => {
    const { account, user } = await registerAndLogIn();
    await system.sql("UPDATE identity.users SET blocked_at = now(), blocked_reason = 'operator' WHERE id = $1", [user.id]);
    const error = await errorOf(system.api().accounts.login({ login: account.email, password: PASSWORD }));
    expect([error.status, error.code]).toEqual([403, 'account_blocked']);
  });
});

describe('the gateway edge', () => {
  it('answers health, security headers, CORS and the OpenAPI document', async () => {
    const ready = await fetch(`${system.gateways[0]}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', checks: { nats: 'ok', identity: 'ok' } });
    expect(ready.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ready.headers.get('strict-transport-security')).toContain('max-age');
    const preflight = await fetch(`${system.gateways[0]}/v1/me`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'GET' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    const document = (await (await fetch(`${system.gateways[0]}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/auth/register', '/v1/auth/login', '/v1/me']));
    expect((await fetch(`${system.gateways[0]}/docs`, { redirect: 'follow' })).status).toBe(200);
  });

  it('answers unknown paths with 404 in the standard error shape', async () => {
    const response = await fetch(`${system.gateways[0]}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'not_found', message: 'no such resource' } });
  });

  it('LogIn stays a public route', () => {
    expect(LogIn.auth).toBe('public');
  });
});

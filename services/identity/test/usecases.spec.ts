import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { KV } from '@nats-io/kv';
import { openRevocationBucket, RevocationWriter } from '@homiwork/auth';
import { ShiftableClock } from '@homiwork/clock';
import { UserSeenV1 } from '@homiwork/contracts';
import { SmtpMailSender } from '@homiwork/mail';
import { startMailSink, type MailSink } from '@homiwork/mail/sink';
import { connectToNats, EventsOutbox, type NatsHandles, Outbox } from '@homiwork/messaging';
import { createLogger } from '@homiwork/observability';
import { createServiceDataSource, Database, runMigrations, Transactor, UserTombstones, withinTransaction } from '@homiwork/persistence';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { hashOpaqueToken, newOpaqueToken } from '../src/crypto/opaque-token.js';
import { PasswordHasher } from '../src/crypto/password-hasher.js';
import { IDENTITY_MIGRATIONS } from '../src/migrations/index.js';
import { ResetTokensRepository } from '../src/persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from '../src/persistence/security-events.repository.js';
import { SessionsRepository } from '../src/persistence/sessions.repository.js';
import { UsersRepository } from '../src/persistence/users.repository.js';
import { BlockAccount } from '../src/usecases/block-account/block-account.usecase.js';
import { ConfirmPasswordReset } from '../src/usecases/confirm-password-reset/confirm-password-reset.usecase.js';
import { DeleteAccount } from '../src/usecases/delete-account/delete-account.usecase.js';
import { PurgeSecurityEvents } from '../src/usecases/purge-security-events/purge-security-events.usecase.js';
import { RecordPrimeStatus } from '../src/usecases/record-prime-status/record-prime-status.usecase.js';
import { UpdateProfile } from '../src/usecases/update-profile/update-profile.usecase.js';

// Identity's use cases built by hand on the real database, NATS and a local SMTP sink:
// they reach the database only through repositories and the Transactor, and join a
// transaction someone else opened (an event consumer's batch) instead of opening their own.

const PASSWORD = 'a long and uncommon passphrase';
const logger = createLogger({ service: 'identity', level: 'silent' });
const clock = new ShiftableClock();
const hasher = new PasswordHasher();

let database: TestDatabase;
let dataSource: DataSource;
let nats: NatsHandles;
let sink: MailSink;
let mail: SmtpMailSender;
let transactor: Transactor;
let users: UsersRepository;
let sessions: SessionsRepository;
let resetTokens: ResetTokensRepository;
let securityEvents: SecurityEventsRepository;
let outbox: EventsOutbox;
let revocations: RevocationWriter;
let revocationBucket: KV;
let tombstones: UserTombstones;

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'identity', migrations: IDENTITY_MIGRATIONS }).initialize();
  await runMigrations(dataSource);
  nats = await connectToNats(TEST_NATS_URL, 'identity-usecases-test');
  sink = await startMailSink();
  mail = new SmtpMailSender({ url: sink.smtpUrl, from: 'no-reply@homiwork.com', logger });
  const db = new Database(dataSource);
  transactor = new Transactor(dataSource);
  users = new UsersRepository(db);
  sessions = new SessionsRepository(db);
  resetTokens = new ResetTokensRepository(db);
  securityEvents = new SecurityEventsRepository(db);
  outbox = new EventsOutbox(new Outbox('identity', 'hw', clock), db);
  revocationBucket = await openRevocationBucket(nats.nc, createTestNamespace(), 300);
  revocations = new RevocationWriter(revocationBucket);
  tombstones = new UserTombstones(db);
});
afterAll(async () => {
  mail?.close();
  await sink?.stop();
  await nats?.nc.drain();
  await dataSource?.destroy();
  await database?.drop();
});

async function newUser(): Promise<{ id: string; email: string; sessionIds: string[] }> {
  const tag = randomUUID().slice(0, 8);
  const user = await users.insert({ id: randomUUID(), email: `user.${tag}@example.com`, username: `user_${tag}`, passwordHash: await hasher.hash(PASSWORD), role: 'user', now: clock.now() });
  const sessionIds = [randomUUID(), randomUUID()];
  for (const id of sessionIds) await sessions.createSession({ id, userId: user.id, now: clock.now() });
  return { id: user.id, email: user.email, sessionIds };
}

const outboxTypes = async () => (await dataSource.query<Array<{ type: string }>>('SELECT type FROM identity.outbox ORDER BY occurred_at')).map((row) => row.type);
const liveSessions = async (userId: string) => (await dataSource.query<unknown[]>('SELECT 1 FROM identity.sessions WHERE user_id = $1 AND revoked_at IS NULL', [userId])).length;

describe('event-handler use cases join the consumer’s transaction', () => {
  const blockAccount = () => new BlockAccount(transactor, users, sessions, securityEvents, outbox, revocations, clock);

  it('BlockAccount inside a batch that rolls back leaves nothing: no block, no revoked session, no event', async () => {
    const user = await newUser();
    const before = await outboxTypes();
    await expect(
      dataSource.transaction((manager) =>
        withinTransaction(manager, async () => {
          expect(await blockAccount().execute(user.id, 'prohibited_content')).toBe(true);
          throw new Error('a later message of the batch failed');
        }),
      ),
    ).rejects.toThrow('later message');
    expect((await users.findById(user.id))!.blockedAt).toBeNull();
    expect(await liveSessions(user.id)).toBe(2);
    expect(await outboxTypes()).toEqual(before);
  });

  it('BlockAccount inside a batch that commits blocks, revokes and announces, once', async () => {
    const user = await newUser();
    await dataSource.transaction((manager) => withinTransaction(manager, () => blockAccount().execute(user.id, 'prohibited_content')));
    expect((await users.findById(user.id))!.blockedAt).toBeInstanceOf(Date);
    expect(await liveSessions(user.id)).toBe(0);
    expect(await blockAccount().execute(user.id, 'prohibited_content')).toBe(false);
    const announced = await dataSource.query<unknown[]>("SELECT 1 FROM identity.outbox WHERE type = 'AccountBlocked.v1' AND payload->>'userId' = $1", [user.id]);
    expect(announced).toHaveLength(1);
  });

  it('the outbox refuses to write outside a transaction', async () => {
    await expect(outbox.append(UserSeenV1, { userId: randomUUID(), seenOn: '2025-01-01' })).rejects.toThrow(/must run inside Transactor.run/);
  });

  it('RecordPrimeStatus keeps billing’s Prime status as camelCase on the user record', async () => {
    const user = await newUser();
    const expiresAt = new Date(clock.now().getTime() + 86_400_000);
    await dataSource.transaction((manager) => withinTransaction(manager, () => new RecordPrimeStatus(users).execute({ userId: user.id, active: true, expiresAt: expiresAt.toISOString(), changedAt: clock.now().toISOString() })));
    expect((await users.findById(user.id))!.prime).toEqual({ active: true, expiresAt });
  });
});

describe('UpdateProfile', () => {
  const updateProfile = () => new UpdateProfile(transactor, users, sessions, resetTokens, securityEvents, hasher, revocations, mail, clock, logger);
  const caller = (userId: string) => ({ requestId: randomUUID(), userId });

  it('refuses an email change with a wrong password and changes nothing', async () => {
    const user = await newUser();
    const fresh = `moved.${randomUUID().slice(0, 8)}@example.com`;
    await expect(updateProfile().execute({ email: fresh, currentPassword: 'not the password at all' }, caller(user.id))).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
    expect((await users.findById(user.id))!.email).toBe(user.email);
    expect(await liveSessions(user.id)).toBe(2);
    const refused = await dataSource.query<unknown[]>("SELECT 1 FROM identity.security_events WHERE user_id = $1 AND type = 'profile_change_refused'", [user.id]);
    expect(refused).toHaveLength(1);
  });

  it('with the right password: new email, every session and reset link ended, the old address told', async () => {
    const user = await newUser();
    const link = newOpaqueToken();
    await resetTokens.insert({ hash: link.hash, userId: user.id, now: clock.now(), expiresAt: new Date(clock.now().getTime() + 600_000) });
    const fresh = `moved.${randomUUID().slice(0, 8)}@example.com`;
    const profile = await updateProfile().execute({ email: fresh, currentPassword: PASSWORD }, caller(user.id));
    expect(profile.email).toBe(fresh);
    expect(await liveSessions(user.id)).toBe(0);
    expect(await resetTokens.consume(hashOpaqueToken(link.token), clock.now())).toBeUndefined();
    const notice = await sink.waitFor((message) => message.to.includes(user.email));
    expect(notice.text).not.toContain(fresh);
  });

  it('a username change alone needs no password and ends no session', async () => {
    const user = await newUser();
    const username = `renamed_${randomUUID().slice(0, 8)}`;
    expect((await updateProfile().execute({ username }, caller(user.id))).username).toBe(username);
    expect(await liveSessions(user.id)).toBe(2);
  });
});

describe('PurgeSecurityEvents (one pass; SecurityEventSweeper schedules it)', () => {
  it('deletes what the service clock says is older than 12 months, and nothing younger', async () => {
    const user = await newUser();
    await securityEvents.record({ userId: user.id, type: 'login_succeeded', origin: {}, now: new Date(clock.now().getTime() - 366 * 86_400_000) });
    await securityEvents.record({ userId: user.id, type: 'login_succeeded', origin: {}, now: new Date(clock.now().getTime() - 300 * 86_400_000) });
    expect(await new PurgeSecurityEvents(securityEvents, clock).execute()).toBeGreaterThanOrEqual(1);
    const left = await dataSource.query<unknown[]>('SELECT 1 FROM identity.security_events WHERE user_id = $1', [user.id]);
    expect(left).toHaveLength(1);
  });
});

describe('DeleteAccount', () => {
  const deleteAccount = (writer = revocations) => new DeleteAccount(transactor, users, sessions, resetTokens, securityEvents, hasher, outboxFor(), writer, tombstones, clock);
  const outboxFor = () => outbox;

  it('revokes the account’s tokens inside the erasure, before the row goes, and records the tombstone', async () => {
    const user = await newUser();
    expect(await deleteAccount().erase(user.id, randomUUID(), 'user_request')).toBe(true);
    expect(await users.findById(user.id)).toBeUndefined();
    expect(await revocationBucket.get(`user.${user.id}`)).not.toBeNull();
    expect(await tombstones.isErased(user.id)).toBe(true);
  });

  // Defect 8: revoked after the commit, a failed revocation left a deleted account whose
  // access tokens kept working. Now the erasure fails whole and can be retried.
  it('when the revocation cannot be written, nothing is erased', async () => {
    const user = await newUser();
    const broken = await connectToNats(TEST_NATS_URL, 'identity-usecases-test-broken');
    const writer = new RevocationWriter(await openRevocationBucket(broken.nc, createTestNamespace(), 300));
    await broken.nc.close();
    const erasureId = randomUUID();
    await expect(deleteAccount(writer).erase(user.id, erasureId, 'user_request')).rejects.toThrow();
    expect(await users.findById(user.id)).toBeDefined();
    expect(await liveSessions(user.id)).toBe(2);
    expect(await tombstones.isErased(user.id)).toBe(false);
    expect(await dataSource.query("SELECT 1 FROM identity.outbox WHERE payload->>'erasureId' = $1", [erasureId])).toHaveLength(0);
  });

  // A security event has no foreign key (it outlives the account, unlinked); one written by
  // a request racing the erasure (a failed login checked just before) stayed linked.
  it('a security event written while the erasure commits is kept unlinked, like the others', async () => {
    const user = await newUser();
    await securityEvents.record({ userId: user.id, type: 'login_succeeded', origin: {}, now: clock.now() });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let erased!: () => void;
    const erasedInTransaction = new Promise<void>((resolve) => (erased = resolve));
    const erasing = dataSource.transaction((manager) =>
      withinTransaction(manager, async () => {
        await deleteAccount().erase(user.id, randomUUID(), 'user_request');
        erased();
        await released;
      }),
    );
    await erasedInTransaction;
    const failedAt = clock.now();
    const racing = securityEvents.record({ userId: user.id, type: 'login_failed', origin: {}, now: failedAt });
    await eventually(async () => (await dataSource.query<unknown[]>('SELECT 1 FROM pg_locks WHERE NOT granted')).length > 0, { what: 'the event waiting for the erasure' });
    release();
    await erasing;
    await racing;
    expect(await dataSource.query('SELECT 1 FROM identity.security_events WHERE user_id = $1', [user.id])).toHaveLength(0);
    const unlinked = await dataSource.query<unknown[]>("SELECT 1 FROM identity.security_events WHERE user_id IS NULL AND type = 'login_failed' AND occurred_at = $1", [failedAt]);
    expect(unlinked).toHaveLength(1);
  });
});

describe('ConfirmPasswordReset', () => {
  /** The real hasher, counting the Argon2 hashes it computes. */
  class CountingHasher extends PasswordHasher {
    hashes = 0;
    override hash(password: string): Promise<string> {
      this.hashes++;
      return super.hash(password);
    }
  }
  const confirm = (counting: PasswordHasher) => new ConfirmPasswordReset(transactor, users, resetTokens, sessions, securityEvents, counting, revocations, clock);
  const caller = { requestId: 'reset-test' };
  async function linkFor(userId: string): Promise<string> {
    const link = newOpaqueToken();
    await resetTokens.insert({ hash: link.hash, userId, now: clock.now(), expiresAt: new Date(clock.now().getTime() + 600_000) });
    return link.token;
  }

  it('looks the link up before anything else: an invalid link is refused as such, without hashing', async () => {
    const counting = new CountingHasher();
    const unknown = newOpaqueToken().token;
    await expect(confirm(counting).execute({ token: unknown, password: 'a fine new passphrase' }, caller)).rejects.toMatchObject({ status: 400, code: 'invalid_reset_token' });
    // Even with a password that breaks the rules: the link is what is wrong.
    await expect(confirm(counting).execute({ token: unknown, password: 'password' }, caller)).rejects.toMatchObject({ code: 'invalid_reset_token' });
    expect(counting.hashes).toBe(0);
  });

  it('applies the registration rules (length, common, containing the username) and leaves the link usable', async () => {
    const user = await newUser();
    const { username } = (await users.findById(user.id))!;
    const token = await linkFor(user.id);
    const counting = new CountingHasher();
    for (const password of ['short', 'password', `my ${username.toUpperCase()} passphrase`]) {
      await expect(confirm(counting).execute({ token, password }, caller), password).rejects.toMatchObject({ status: 400, code: 'weak_password' });
    }
    expect(counting.hashes).toBe(0);
    await confirm(counting).execute({ token, password: 'a fine new passphrase' }, caller);
    expect(counting.hashes).toBe(1);
    expect(await hasher.verify((await users.findById(user.id))!.passwordHash, 'a fine new passphrase')).toBe(true);
    expect(await liveSessions(user.id)).toBe(0);
    await expect(confirm(counting).execute({ token, password: 'another fine passphrase' }, caller)).rejects.toMatchObject({ code: 'invalid_reset_token' });
  });
});

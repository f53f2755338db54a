import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { KV } from '@nats-io/kv';
import { openRevocationBucket, RevocationWriter } from '@homiwork/auth';
import { ShiftableClock } from '@homiwork/clock';
import { RetentionRpc, UserSeenV1 } from '@homiwork/contracts';
import { SmtpMailSender } from '@homiwork/mail';
import { startMailSink, type MailSink } from '@homiwork/mail/sink';
import { connectToNats, EventsOutbox, MessagingMetrics, type NatsHandles, Outbox, RpcClient, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { LegalHolds } from '@homiwork/service-kit';
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
import { RequestErasure } from '../src/usecases/request-erasure/request-erasure.usecase.js';
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
let retention: RpcServer;
let holds: LegalHolds;
/** The users the stand-in retention reports under a legal hold. */
const heldUserIds = new Set<string>();

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
  // Retention stood in for by a responder on the real NATS, answering its ActiveHoldsRoute.
  const namespace = createTestNamespace();
  retention = new RpcServer(nats.nc, namespace, 'retention', logger, new MessagingMetrics(new ServiceMetrics('identity-usecases-test')));
  retention.serve(RetentionRpc.ActiveHoldsRoute, ({ userIds }) => Promise.resolve({ heldUserIds: userIds.filter((userId) => heldUserIds.has(userId)) }));
  holds = new LegalHolds(new RpcClient(nats.nc, namespace, 1_000));
});
afterAll(async () => {
  await retention?.stop();
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
  const purge = (legalHolds = holds) => new PurgeSecurityEvents(securityEvents, legalHolds, clock, { SECURITY_EVENT_RETENTION_DAYS: 365 }, logger);
  const eventsOf = async (userId: string) => (await dataSource.query<unknown[]>('SELECT 1 FROM identity.security_events WHERE user_id = $1', [userId])).length;
  async function oldAndRecentEvents(userId: string): Promise<void> {
    await securityEvents.record({ userId, type: 'login_succeeded', origin: {}, now: new Date(clock.now().getTime() - 366 * 86_400_000) });
    await securityEvents.record({ userId, type: 'login_succeeded', origin: {}, now: new Date(clock.now().getTime() - 300 * 86_400_000) });
  }

  it('deletes what the service clock says is older than the period, and nothing younger', async () => {
    const user = await newUser();
    await oldAndRecentEvents(user.id);
    expect(await purge().execute()).toBeGreaterThanOrEqual(1);
    expect(await eventsOf(user.id)).toBe(1);
  });

  it('keeps every event of a user under a legal hold, and deletes it once the hold is gone', async () => {
    const held = await newUser();
    const other = await newUser();
    await oldAndRecentEvents(held.id);
    await oldAndRecentEvents(other.id);
    heldUserIds.add(held.id);
    try {
      await purge().execute();
      expect(await eventsOf(held.id)).toBe(2);
      expect(await eventsOf(other.id)).toBe(1);
    } finally {
      heldUserIds.delete(held.id);
    }
    await purge().execute();
    expect(await eventsOf(held.id)).toBe(1);
  });

  it('deletes nothing when retention does not answer (fails closed), and says so once', async () => {
    const user = await newUser();
    await oldAndRecentEvents(user.id);
    const lines: string[] = [];
    const listening = createLogger({ service: 'identity', level: 'warn', destination: { write: (line: string) => lines.push(line) } });
    const silent = new LegalHolds(new RpcClient(nats.nc, createTestNamespace(), 300));
    const pass = new PurgeSecurityEvents(securityEvents, silent, clock, { SECURITY_EVENT_RETENTION_DAYS: 365 }, listening);
    expect(await pass.execute()).toBe(0);
    expect(await pass.execute()).toBe(0);
    expect(await eventsOf(user.id)).toBe(2);
    expect(lines.filter((line) => line.includes('security-event purge skipped'))).toHaveLength(1);
  });
});

describe('DeleteAccount', () => {
  const requestErasure = (writer = revocations) => new RequestErasure(transactor, users, sessions, resetTokens, securityEvents, outbox, writer, clock);
  const deleteAccount = (writer = revocations) => new DeleteAccount(transactor, users, sessions, resetTokens, securityEvents, hasher, outbox, writer, tombstones, requestErasure(writer), clock, logger);
  /** The erasure is asked for first (the account disabled); `erase` is what retention's approval runs. */
  async function requested(userId: string): Promise<string> {
    const outcome = await requestErasure().execute(userId, 'user_request');
    if (outcome.status !== 'requested') throw new Error(`erasure not requested: ${outcome.status}`);
    return outcome.erasureId;
  }

  it('revokes the account’s tokens inside the erasure, before the row goes, and records the tombstone', async () => {
    const user = await newUser();
    const erasureId = await requested(user.id);
    expect((await revocationBucket.get(`user.${user.id}`))?.operation).toBe('PUT');
    // Gone from the bucket (aged out, say, while a legal hold kept the account): the erasure writes it again.
    await revocationBucket.delete(`user.${user.id}`);
    expect((await revocationBucket.get(`user.${user.id}`))?.operation).not.toBe('PUT');
    expect(await deleteAccount().erase(user.id, erasureId)).toBe(true);
    expect(await users.findById(user.id)).toBeUndefined();
    expect((await revocationBucket.get(`user.${user.id}`))?.operation).toBe('PUT');
    expect(await tombstones.isErased(user.id)).toBe(true);
  });

  // Defect 8: revoked after the commit, a failed revocation left a deleted account whose
  // access tokens kept working. Now the erasure fails whole and can be retried.
  it('when the revocation cannot be written, nothing is erased', async () => {
    const user = await newUser();
    const erasureId = await requested(user.id);
    const broken = await connectToNats(TEST_NATS_URL, 'identity-usecases-test-broken');
    const writer = new RevocationWriter(await openRevocationBucket(broken.nc, createTestNamespace(), 300));
    await broken.nc.close();
    await expect(deleteAccount(writer).erase(user.id, erasureId)).rejects.toThrow();
    expect(await users.findById(user.id)).toBeDefined();
    expect(await tombstones.isErased(user.id)).toBe(false);
    expect(await dataSource.query("SELECT 1 FROM identity.outbox WHERE payload->>'erasureId' = $1 AND type <> 'ErasureRequested.v1'", [erasureId])).toHaveLength(0);
  });

  it('when the revocation cannot be written, the erasure is not even asked for: the account stays usable', async () => {
    const user = await newUser();
    const broken = await connectToNats(TEST_NATS_URL, 'identity-usecases-test-broken-request');
    const writer = new RevocationWriter(await openRevocationBucket(broken.nc, createTestNamespace(), 300));
    await broken.nc.close();
    await expect(requestErasure(writer).execute(user.id, 'user_request')).rejects.toThrow();
    expect((await users.findById(user.id))!.erasure).toBeNull();
    expect(await liveSessions(user.id)).toBe(2);
    expect(await dataSource.query("SELECT 1 FROM identity.outbox WHERE type = 'ErasureRequested.v1' AND payload->>'userId' = $1", [user.id])).toHaveLength(0);
  });

  it('erases only the erasure open on the account: another erasureId, or none open, leaves it alone', async () => {
    const user = await newUser();
    expect(await deleteAccount().erase(user.id, randomUUID())).toBe(false);
    const erasureId = await requested(user.id);
    expect(await deleteAccount().erase(user.id, randomUUID())).toBe(false);
    expect(await users.findById(user.id)).toBeDefined();
    expect(await deleteAccount().erase(user.id, erasureId)).toBe(true);
    expect(await deleteAccount().erase(user.id, erasureId)).toBe(false);
  });

  // A security event has no foreign key (it outlives the account, unlinked); one written by
  // a request racing the erasure (a failed login checked just before) stayed linked.
  it('a security event written while the erasure commits is kept unlinked, like the others', async () => {
    const user = await newUser();
    const erasureId = await requested(user.id);
    await securityEvents.record({ userId: user.id, type: 'login_succeeded', origin: {}, now: clock.now() });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let erased!: () => void;
    const erasedInTransaction = new Promise<void>((resolve) => (erased = resolve));
    const erasing = dataSource.transaction((manager) =>
      withinTransaction(manager, async () => {
        await deleteAccount().erase(user.id, erasureId);
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

import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentDeletedV1, ErasureRequestedV1, UserDeletedV1 } from '@homiwork/contracts';
import { connectToNats, provisionStreams, publishStoredEvent, type NatsHandles } from '@homiwork/messaging';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { carryOverSql, collectErasures, collectLivePrivacyState, journalMarkerSql, lastStreamSequence, reapplySince, saveJournal, trustedJournal, type ReapplyJournal } from './erasures.js';
import { restoreInOneTransaction } from './postgres.js';

const DAY_MS = 86_400_000;

describe('reapplySince', () => {
  const takenAt = new Date('2026-12-04T10:00:00.000Z');

  it('starts at the oldest erasure still open in the snapshot, however old', () => {
    const rows = [
      { status: 'completed', requested_at: '2026-11-01T00:00:00+00' },
      { status: 'in_progress', requested_at: '2026-11-28 09:00:00+00' },
      { status: 'held', requested_at: '2026-12-02 09:00:00+00' },
    ];
    expect(reapplySince(takenAt, rows).toISOString()).toBe('2026-11-28T09:00:00.000Z');
  });

  it('starts at the snapshot when no erasure was open', () => {
    expect(reapplySince(takenAt, [{ status: 'completed', requested_at: '2026-11-01T00:00:00Z' }])).toEqual(takenAt);
  });
});

describe('carryOverSql', () => {
  const journal: ReapplyJournal = {
    backupId: 'b',
    nonce: 'n',
    erasures: [],
    erasedUserIds: [],
    records: { erasures: [], receipts: [] },
    live: { legalHolds: [{ id: 'x', reason: 'a reason with $json$ in it' }], privacyRequests: [], requestHistory: [], restrictions: [], uploadIds: [] },
  };

  it('quotes the live rows so no text in them can end the literal', () => {
    const sql = carryOverSql(journal, ['retention']);
    const literal = /(\$json[^$]*\$)\[\{"id":"x".*?\}\]\1/.exec(sql);
    expect(literal?.[1]).toMatch(/^\$json_[0-9a-f]{12}\$$/);
    expect(sql).not.toContain('media.uploads');
    expect(carryOverSql(journal, ['retention', 'media'])).toContain('DELETE FROM media.uploads');
  });
});

// The review's finding: an erasure open at the snapshot whose UserDeleted is older than
// snapshot − 24 h (a purge dead-lettered and replayed later) must be re-applied, and no
// erased account's key may come back, however long ago it was erased. Real NATS and PostgreSQL.
describe('collectErasures and collectLivePrivacyState', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let nats: NatsHandles;
  const namespace = createTestNamespace();
  const takenAt = new Date(Date.now() - DAY_MS);
  const late = { userId: randomUUID(), erasureId: randomUUID() };
  const longGone = randomUUID();
  /** The stream's last sequence as a backup taken now would record it. */
  let backupSequence: number;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    await pool.query(`
      CREATE SCHEMA identity; CREATE TABLE identity.tombstones (user_id uuid PRIMARY KEY, erased_at timestamptz NOT NULL);
      CREATE TABLE identity.users (id uuid PRIMARY KEY, erasure_id uuid);
      CREATE SCHEMA media; CREATE TABLE media.uploads (id uuid PRIMARY KEY);
      CREATE SCHEMA retention;
      CREATE TABLE retention.erasures (id uuid PRIMARY KEY, status text NOT NULL);
      CREATE TABLE retention.erasure_receipts (erasure_id uuid NOT NULL, service text NOT NULL);
      CREATE TABLE retention.legal_holds (id uuid PRIMARY KEY);
      CREATE TABLE retention.privacy_requests (id uuid PRIMARY KEY, user_id uuid, type text NOT NULL, status text NOT NULL);
      CREATE TABLE retention.privacy_request_history (request_id uuid NOT NULL, status text NOT NULL)`);
    nats = await connectToNats(TEST_NATS_URL, 'erasures-spec');
    await provisionStreams(nats.jsm, namespace);
    // Requested 4 days before the snapshot, the account deleted 3 days before it, completed only now.
    const deletedAt = new Date(takenAt.getTime() - 3 * DAY_MS);
    await publishStoredEvent(nats.nc, namespace, UserDeletedV1, { userId: late.userId, erasureId: late.erasureId, reason: 'user_request', deletedAt: deletedAt.toISOString() });
    await pool.query("INSERT INTO identity.tombstones VALUES ($1, $2), ($3, now() - interval '400 days')", [late.userId, deletedAt, longGone]);
    await pool.query("INSERT INTO retention.erasures VALUES ($1, 'completed')", [late.erasureId]);
    backupSequence = await lastStreamSequence(nats.nc, namespace);
  }, 60_000);
  afterAll(async () => {
    await nats?.nc.close();
    await pool?.end();
    await database?.drop();
  });

  it('re-applies an erasure open at the snapshot however long before it, and lists every tombstoned account as erased', async () => {
    const since = reapplySince(takenAt, [{ status: 'in_progress', requested_at: new Date(takenAt.getTime() - 4 * DAY_MS).toISOString() }]);
    const live = await collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence });
    const journal = await collectErasures({ nc: nats.nc, namespace, pool, backupId: 'b', since, afterSequence: backupSequence, live });
    expect(journal.erasures.map((erasure) => erasure.erasureId)).toEqual([late.erasureId]);
    expect(journal.erasedUserIds.sort()).toEqual([late.userId, longGone].sort());
    expect(journal.records.erasures).toHaveLength(1);
  });

  // Review 2, finding 6: which erasures are re-applied must not depend on the clocks.
  it('re-applies every UserDeleted stored after the backup read the stream, whatever its deletedAt says', async () => {
    const skewed = { userId: randomUUID(), erasureId: randomUUID() };
    await publishStoredEvent(nats.nc, namespace, UserDeletedV1, { ...skewed, reason: 'user_request', deletedAt: new Date(takenAt.getTime() - 10 * DAY_MS).toISOString() });
    const live = await collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence });
    const collect = (afterSequence: number) => collectErasures({ nc: nats.nc, namespace, pool, backupId: 'b', since: takenAt, afterSequence, live });
    expect((await collect(backupSequence)).erasures.map((erasure) => erasure.erasureId)).toEqual([skewed.erasureId]);
    // The control: by its (skewed) time alone it would not be.
    const after = await lastStreamSequence(nats.nc, namespace);
    expect((await collect(after)).erasures.map((erasure) => erasure.erasureId)).not.toContain(skewed.erasureId);
    backupSequence = after;
  });

  // Review 2, finding 2: an erasure asked for but not yet opened by retention is refused.
  it('refuses while an account has an erasure requested that retention has not completed, and after an ErasureRequested since the backup', async () => {
    const pending = { userId: randomUUID(), erasureId: randomUUID() };
    await pool.query('INSERT INTO identity.users VALUES ($1, $2)', [pending.userId, pending.erasureId]);
    await expect(collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence })).rejects.toThrow(/nothing was changed: 1 account\(s\) have an erasure requested that is not completed: start the services and let the erasure complete/);
    await pool.query('DELETE FROM identity.users');

    // Consumed by no one yet: only the stream knows, and the account is gone from nothing.
    await publishStoredEvent(nats.nc, namespace, ErasureRequestedV1, { ...pending, reason: 'user_request', requestedAt: new Date().toISOString() });
    await expect(collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence })).rejects.toThrow(/1 erasure\(s\) requested since the backup \(ErasureRequested\) are not completed/);
    await pool.query("INSERT INTO retention.erasures VALUES ($1, 'completed')", [pending.erasureId]);
    await expect(collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence })).resolves.toBeDefined();
  });

  it('refuses, naming each reason, while an erasure is open and after a content deletion since the snapshot', async () => {
    await pool.query("INSERT INTO retention.erasures VALUES ($1, 'held')", [randomUUID()]);
    await publishStoredEvent(nats.nc, namespace, ContentDeletedV1, { userId: randomUUID(), contentId: randomUUID(), sourceUploadIds: [], deletedAt: new Date().toISOString() });
    await expect(collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence })).rejects.toThrow(/nothing was changed: 1 erasure\(s\) are still open or held.*; 1 content deletion\(s\)/);
  });
});

// Review 2, finding 1: reapply.json is trusted only when the database shows that the
// restore's transaction committed with it; a planted or altered one never is.
describe('trustedJournal', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let dir: string;
  const lines: string[] = [];
  const say = (line: string): void => void lines.push(line);
  const journal = (): ReapplyJournal => ({
    backupId: '2026-12-04T10-00-00-000Z',
    nonce: randomUUID(),
    erasures: [],
    erasedUserIds: [],
    records: { erasures: [], receipts: [] },
    live: { legalHolds: [], privacyRequests: [], requestHistory: [], restrictions: [], uploadIds: [] },
  });

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    dir = await mkdtemp(join(tmpdir(), 'homiwork-journal-spec-'));
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ignores a journal whose restore rolled back, and trusts it once its transaction committed', async () => {
    const path = join(dir, 'reapply.json');
    const read = journal();
    await saveJournal(path, read);
    expect(await trustedJournal(path, pool, read.backupId, undefined, say)).toBeNull();
    await expect(readFile(path)).rejects.toThrow(); // discarded
    await saveJournal(path, read);

    await expect(restoreInOneTransaction(database.url, [], `${journalMarkerSql(read)}\nDO $$ BEGIN RAISE EXCEPTION 'a service connected'; END $$;`)).rejects.toThrow(/nothing of it was applied/);
    expect(await trustedJournal(path, pool, read.backupId, undefined, say)).toBeNull();
    expect(lines.at(-1)).toMatch(/no marker of.*reading the live state again/);
    await saveJournal(path, read);

    await restoreInOneTransaction(database.url, [], journalMarkerSql(read));
    expect(await trustedJournal(path, pool, read.backupId, undefined, say)).toEqual(read);
    // Saved again with the queued re-application: still the journal the database was restored with.
    await saveJournal(path, { ...read, queued: { afterSequence: 3, pending: [] } });
    expect((await trustedJournal(path, pool, read.backupId, undefined, say))?.queued?.afterSequence).toBe(3);
    // Another backup's restore, or the same one's read again, is another journal.
    expect(await trustedJournal(path, pool, 'another-backup', undefined, say)).toBeNull();
    await saveJournal(path, { ...read, nonce: randomUUID() });
    expect(await trustedJournal(path, pool, read.backupId, undefined, say)).toBeNull();
    // Altered after the commit: not the journal the database was restored with.
    await saveJournal(path, { ...read, erasedUserIds: [randomUUID()] });
    expect(await trustedJournal(path, pool, read.backupId, undefined, say)).toBeNull();
  });

  it('with a signing key, ignores a journal without its HMAC or altered, even one the database has a marker of', async () => {
    const path = join(dir, 'signed.json');
    const read = journal();
    await restoreInOneTransaction(database.url, [], journalMarkerSql(read));
    await saveJournal(path, read);
    expect(await trustedJournal(path, pool, read.backupId, 'the key', say)).toBeNull();
    expect(lines.at(-1)).toMatch(/not signed with BACKUP_SIGNING_KEY/);
    await saveJournal(path, read, 'the key');
    expect(await trustedJournal(path, pool, read.backupId, 'the key', say)).toEqual(read);
    const file = JSON.parse(await readFile(path, 'utf8')) as { journal: ReapplyJournal; signature: string };
    await writeFile(path, JSON.stringify({ ...file, journal: { ...file.journal, erasedUserIds: [randomUUID()] } }));
    expect(await trustedJournal(path, pool, read.backupId, 'the key', say)).toBeNull();
  });
});

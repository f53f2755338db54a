import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentDeletedV1, UserDeletedV1 } from '@homiwork/contracts';
import { connectToNats, provisionStreams, publishStoredEvent, type NatsHandles } from '@homiwork/messaging';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { carryOverSql, collectErasures, collectLivePrivacyState, reapplySince, type ReapplyJournal } from './erasures.js';

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

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    await pool.query(`
      CREATE SCHEMA identity; CREATE TABLE identity.tombstones (user_id uuid PRIMARY KEY, erased_at timestamptz NOT NULL);
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
  }, 60_000);
  afterAll(async () => {
    await nats?.nc.close();
    await pool?.end();
    await database?.drop();
  });

  it('re-applies an erasure open at the snapshot however long before it, and lists every tombstoned account as erased', async () => {
    const since = reapplySince(takenAt, [{ status: 'in_progress', requested_at: new Date(takenAt.getTime() - 4 * DAY_MS).toISOString() }]);
    const live = await collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt });
    const journal = await collectErasures({ nc: nats.nc, namespace, pool, backupId: 'b', since, live });
    expect(journal.erasures.map((erasure) => erasure.erasureId)).toEqual([late.erasureId]);
    expect(journal.erasedUserIds.sort()).toEqual([late.userId, longGone].sort());
    expect(journal.records.erasures).toHaveLength(1);
  });

  it('refuses, naming each reason, while an erasure is open and after a content deletion since the snapshot', async () => {
    await pool.query("INSERT INTO retention.erasures VALUES ($1, 'held')", [randomUUID()]);
    await publishStoredEvent(nats.nc, namespace, ContentDeletedV1, { userId: randomUUID(), contentId: randomUUID(), sourceUploadIds: [], deletedAt: new Date().toISOString() });
    await expect(collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt })).rejects.toThrow(/nothing was changed: 1 erasure\(s\) are still open or held.*; 1 content deletion\(s\)/);
  });
});

import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { addDays, DAY_MS, ShiftableClock } from '@homiwork/clock';
import { PurgeCompletedV1, RetentionRpc, SAFETY_NET_GRACE_DAYS, UploadExpiredV1 } from '@homiwork/contracts';
import { connectToNats, EventsOutbox, isInfrastructureFailure, MessagingMetrics, Outbox, RpcClient, RpcServer, type NatsHandles } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { createServiceDataSource, Database, runMigrations, Transactor, UserTombstones, withinTransaction } from '@homiwork/persistence';
import { LegalHolds, LegalHoldsUnknown } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { mediaConfigSchema } from '../src/config.js';
import { MEDIA_MIGRATIONS } from '../src/migrations/index.js';
import { UploadsRepository } from '../src/persistence/uploads.repository.js';
import { PurgeUploads } from '../src/usecases/purge-uploads/purge-uploads.usecase.js';
import { UploadSweeper } from '../src/usecases/purge-uploads/upload-sweeper.js';

// Media's own sweep is a safety net behind retention (RETENTION_SCHEDULE.uploads acts
// first): it takes only uploads due more than SAFETY_NET_GRACE_DAYS ago, never those of a
// user under a legal hold, and without retention's answer it deletes nothing. Retention's
// UploadExpired, too, asks about the owner just before deleting: a hold placed after the
// event was fired still counts, and without an answer the event waits (redelivered).
// Real PostgreSQL, S3 and NATS; retention is stood in for by a responder of holds.active.

const clock = new ShiftableClock();
let database: TestDatabase;
let dataSource: DataSource;
let s3: LocalS3;
let store: ObjectStore;
let uploads: UploadsRepository;
let nats: NatsHandles;
let namespace: string;
let sweeper: UploadSweeper;
let purge: PurgeUploads;
const sweeperMetrics = new ServiceMetrics('media-safety-net-test');
let retention: RpcServer | undefined;
const held = new Set<string>();
/** Every holds.active question retention was asked: the ids asked about. */
const questions: string[][] = [];
const logLines: string[] = [];

function startRetention(): void {
  retention = new RpcServer(nats.nc, namespace, 'retention', createLogger({ service: 'retention', level: 'silent' }), new MessagingMetrics(new ServiceMetrics('retention')));
  retention.serve(RetentionRpc.ActiveHoldsRoute, ({ userIds }) => {
    questions.push(userIds);
    return Promise.resolve({ heldUserIds: userIds.filter((userId) => held.has(userId)) });
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'media', migrations: MEDIA_MIGRATIONS }).initialize();
  await runMigrations(dataSource);
  s3 = await startLocalS3();
  store = new ObjectStore(s3.config, { service: 'media' });
  await store.ensureBucket();
  const db = new Database(dataSource);
  uploads = new UploadsRepository(db);
  namespace = createTestNamespace();
  nats = await connectToNats(TEST_NATS_URL, 'media-safety-net-test');
  startRetention();
  purge = new PurgeUploads(new Transactor(dataSource), uploads, store, new EventsOutbox(new Outbox('media', 'hw', clock), db), new UserTombstones(db), new LegalHolds(new RpcClient(nats.nc, namespace, 1_000)), clock);
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  const config = mediaConfigSchema.parse({ NODE_ENV: 'test', DATABASE_URL: database.url, NATS_URL: TEST_NATS_URL, S3_URL: s3.url, INTERNAL_API_TOKEN: 'x'.repeat(32) });
  sweeper = new UploadSweeper(purge, createLogger({ service: 'media', level: 'debug', destination }), config, sweeperMetrics);
});
afterAll(async () => {
  await retention?.stop();
  await nats?.nc.drain();
  await s3?.stop();
  await dataSource?.destroy();
  await database?.drop();
});

/** purge_backlog_items{kind="upload"} as a scrape reads it (counted in the database then). */
async function backlog(): Promise<number | undefined> {
  const line = (await sweeperMetrics.metricsText()).split('\n').find((l) => l.startsWith('purge_backlog_items{kind="upload"'));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function uploadOf(userId: string, createdAt: Date) {
  const id = randomUUID();
  const stored = await store.put(userId, `uploads/${id}`, Buffer.from('due'), { size: 3, contentType: 'text/plain; charset=utf-8' });
  return uploads.insert({ id, userId, kind: 'text', mimeType: 'text/plain; charset=utf-8', bytes: 3, objectKey: stored.key, createdAt, expiresAt: addDays(createdAt, 7) });
}
const exists = async (id: string) => (await dataSource.query('SELECT 1 FROM media.uploads WHERE id = $1', [id])).length === 1;
/** The receipt the purge of one upload wrote to the outbox (zero counts when it deleted nothing). */
async function receiptOf(uploadId: string): Promise<{ uploads: number; objects: number } | undefined> {
  const rows = await dataSource.query<Array<{ payload: { scopeId: string; counts: { uploads: number; objects: number } } }>>(
    "SELECT payload FROM media.outbox WHERE type = $1 AND payload->>'scopeId' = $2 ORDER BY seq DESC LIMIT 1",
    [PurgeCompletedV1.type, uploadId],
  );
  return rows[0]?.payload.counts;
}
/** UploadExpired as media's consumer applies it: inside the consumer's transaction. */
const uploadExpired = (upload: { id: string; userId: string }) =>
  dataSource.transaction((manager) => withinTransaction(manager, () => purge.one(upload.id, upload.userId, { type: UploadExpiredV1.type, messageId: randomUUID() })));

describe('media’s own upload sweep, behind retention', () => {
  it('leaves an upload due less than the grace period ago to retention, and takes it once the grace is over; the purge backlog counts it until then', async () => {
    const before = (await backlog())!;
    const upload = await uploadOf(randomUUID(), addDays(clock.now(), -7));
    expect(await backlog()).toBe(before + 1);
    await sweeper.sweep();
    expect(await exists(upload.id)).toBe(true);
    clock.advance(SAFETY_NET_GRACE_DAYS * DAY_MS);
    await sweeper.sweep();
    expect(await exists(upload.id)).toBe(false);
    expect(await backlog()).toBe(before);
    expect(await store.stat(upload.objectKey)).toBeNull();
  });

  it('keeps a held user’s due uploads (row and object) and deletes them once the hold is released; another user’s go at once', async () => {
    const heldUser = randomUUID();
    const otherUser = randomUUID();
    const kept = await uploadOf(heldUser, addDays(clock.now(), -30));
    const gone = await uploadOf(otherUser, addDays(clock.now(), -30));
    held.add(heldUser);
    await sweeper.sweep();
    expect(await exists(kept.id)).toBe(true);
    expect(await store.stat(kept.objectKey)).not.toBeNull();
    expect(await exists(gone.id)).toBe(false);

    held.delete(heldUser);
    await sweeper.sweep();
    expect(await exists(kept.id)).toBe(false);
    expect(await store.stat(kept.objectKey)).toBeNull();
  });

  it('deletes nothing while retention does not answer, logs a warning, and sweeps again once it answers', async () => {
    const upload = await uploadOf(randomUUID(), addDays(clock.now(), -30));
    await retention!.stop();
    retention = undefined;
    try {
      expect(await sweeper.sweep()).toBe(0);
      expect(await exists(upload.id)).toBe(true);
      expect(logLines.some((line) => line.includes('"level":"warn"') && line.includes('expired-upload sweep skips this round'))).toBe(true);
    } finally {
      startRetention();
    }
    expect(await sweeper.sweep()).toBeGreaterThanOrEqual(1);
    expect(await exists(upload.id)).toBe(false);
  });
});

describe('media’s own upload sweep asks about each batch’s owners only', () => {
  it('asks at most a batch of ids, only of candidates, and goes past held uploads older than the rest', async () => {
    const heldUser = randomUUID();
    const freeUser = randomUUID();
    const heldUploads = [await uploadOf(heldUser, addDays(clock.now(), -60)), await uploadOf(heldUser, addDays(clock.now(), -59)), await uploadOf(heldUser, addDays(clock.now(), -58))];
    const freeUpload = await uploadOf(freeUser, addDays(clock.now(), -40));
    held.add(heldUser);
    held.add(randomUUID()); // a hold on someone with nothing due: never named in a question
    questions.length = 0;
    try {
      expect(await purge.expired(2)).toBe(1);
      expect(await exists(freeUpload.id)).toBe(false);
      for (const upload of heldUploads) expect(await exists(upload.id)).toBe(true);
      expect(questions.length).toBeGreaterThanOrEqual(2);
      for (const asked of questions) {
        expect(asked.length).toBeLessThanOrEqual(2);
        for (const userId of asked) expect([heldUser, freeUser]).toContain(userId);
      }
    } finally {
      held.clear();
    }
    expect(await purge.expired(2)).toBe(3);
  });
});

describe('retention’s UploadExpired under legal holds', () => {
  it('keeps the upload of a user held after the event was fired (a zero receipt), and the sweep takes it after the release', async () => {
    const heldUser = randomUUID();
    const upload = await uploadOf(heldUser, addDays(clock.now(), -30));
    held.add(heldUser);
    try {
      await uploadExpired(upload);
      expect(await exists(upload.id)).toBe(true);
      expect(await store.stat(upload.objectKey)).not.toBeNull();
      expect(await receiptOf(upload.id)).toEqual({ uploads: 0, objects: 0 });
    } finally {
      held.delete(heldUser);
    }
    await sweeper.sweep();
    expect(await exists(upload.id)).toBe(false);
    expect(await store.stat(upload.objectKey)).toBeNull();
  });

  it('deletes the upload of a user under no hold, row and object', async () => {
    const upload = await uploadOf(randomUUID(), addDays(clock.now(), -7));
    await uploadExpired(upload);
    expect(await exists(upload.id)).toBe(false);
    expect(await store.stat(upload.objectKey)).toBeNull();
    expect(await receiptOf(upload.id)).toEqual({ uploads: 1, objects: 1 });
  });

  it('without retention’s answer deletes nothing and fails as an unreachable dependency (the consumer holds the event and tries again)', async () => {
    const upload = await uploadOf(randomUUID(), addDays(clock.now(), -7));
    await retention!.stop();
    retention = undefined;
    try {
      const failure = await uploadExpired(upload).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(LegalHoldsUnknown);
      expect(isInfrastructureFailure(failure)).toBe(true);
      expect(await exists(upload.id)).toBe(true);
      expect(await store.stat(upload.objectKey)).not.toBeNull();
      expect(await receiptOf(upload.id)).toBeUndefined();
    } finally {
      startRetention();
    }
    await uploadExpired(upload);
    expect(await exists(upload.id)).toBe(false);
  });
});

import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { addDays, ShiftableClock } from '@homiwork/clock';
import { RetentionRpc, UploadExpiredV1, UserDeletedV1 } from '@homiwork/contracts';
import { connectToNats, EventsOutbox, MessagingMetrics, Outbox, RpcClient, RpcServer, type NatsHandles } from '@homiwork/messaging';
import { catalogueViolations, createLogger, ServiceMetrics } from '@homiwork/observability';
import { createServiceDataSource, Database, runMigrations, Transactor, UserTombstones, withinTransaction } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { LegalHolds } from '@homiwork/service-kit';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { mediaConfigSchema, type MediaConfig } from '../src/config.js';
import { MEDIA_MIGRATIONS } from '../src/migrations/index.js';
import { UploadWorkDirs } from '../src/persistence/upload-work-dirs.js';
import { UploadsRepository } from '../src/persistence/uploads.repository.js';
import { Moderator } from '@homiwork/moderation';
import { AvTransformer, ImageTransformer } from '../src/processing/index.js';
import { DeleteUpload } from '../src/usecases/delete-upload/delete-upload.usecase.js';
import { GetUpload } from '../src/usecases/get-upload/get-upload.usecase.js';
import { GetUploadFile } from '../src/usecases/get-upload-file/get-upload-file.usecase.js';
import { ListUploads } from '../src/usecases/list-uploads/list-uploads.usecase.js';
import { PurgeUploads } from '../src/usecases/purge-uploads/purge-uploads.usecase.js';
import { StoreUpload } from '../src/usecases/store-upload/store-upload.usecase.js';
import { UploadMetrics } from '../src/upload-metrics.js';

// Media's use cases built by hand on the real database and a local S3 server: reads go
// through use cases (never a handler reading the repository), purges join the event
// consumer's transaction, and errors come from MediaErrors.

const clock = new ShiftableClock();
let database: TestDatabase;
let dataSource: DataSource;
let s3: LocalS3;
let store: ObjectStore;
let transactor: Transactor;
let uploads: UploadsRepository;
let purge: PurgeUploads;
let outbox: EventsOutbox;
let tombstones: UserTombstones;
let config: MediaConfig;
// Retention stood in for on the real NATS: no one is under a legal hold here (safety-net.spec.ts tests holds).
let nats: NatsHandles;
let retention: RpcServer;
let holds: LegalHolds;
const logger = createLogger({ service: 'media', level: 'silent' });

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: 'media', migrations: MEDIA_MIGRATIONS }).initialize();
  await runMigrations(dataSource);
  s3 = await startLocalS3();
  store = new ObjectStore(s3.config, { service: 'media' });
  await store.ensureBucket();
  const db = new Database(dataSource);
  transactor = new Transactor(dataSource);
  uploads = new UploadsRepository(db);
  outbox = new EventsOutbox(new Outbox('media', 'hw', clock), db);
  tombstones = new UserTombstones(db);
  nats = await connectToNats(TEST_NATS_URL, 'media-usecases-test');
  const namespace = createTestNamespace();
  retention = new RpcServer(nats.nc, namespace, 'retention', logger, new MessagingMetrics(new ServiceMetrics('retention')));
  retention.serve(RetentionRpc.ActiveHoldsRoute, () => Promise.resolve({ heldUserIds: [] }));
  holds = new LegalHolds(new RpcClient(nats.nc, namespace, 5_000));
  purge = new PurgeUploads(transactor, uploads, store, outbox, tombstones, holds, clock);
  config = mediaConfigSchema.parse({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    S3_URL: s3.url,
    INTERNAL_API_TOKEN: 'x'.repeat(32),
    MEDIA_TMP_DIR: await mkdtemp(join(tmpdir(), 'media-usecases-')),
  });
});
afterAll(async () => {
  if (config) await rm(config.MEDIA_TMP_DIR, { recursive: true, force: true });
  await retention?.stop();
  await nats?.nc.drain();
  await s3?.stop();
  await dataSource?.destroy();
  await database?.drop();
});

async function storedUpload(userId: string, createdAt = clock.now()) {
  const id = randomUUID();
  const stored = await store.put(userId, `uploads/${id}`, Buffer.from('plain text'), { size: 10, contentType: 'text/plain; charset=utf-8' });
  return uploads.insert({ id, userId, kind: 'text', mimeType: 'text/plain; charset=utf-8', bytes: 10, objectKey: stored.key, createdAt, expiresAt: addDays(createdAt, 7) });
}

const caller = (userId: string) => ({ requestId: randomUUID(), userId });
const rowCount = async (id: string) => (await dataSource.query<unknown[]>('SELECT 1 FROM media.uploads WHERE id = $1', [id])).length;

describe('reading uploads goes through use cases', () => {
  it('GetUpload and ListUploads show the owner’s uploads in the contract’s shape and hide everyone else’s', async () => {
    const owner = randomUUID();
    const upload = await storedUpload(owner);
    const view = await new GetUpload(uploads, clock).execute(upload.id, caller(owner));
    expect(view).toEqual({ id: upload.id, kind: 'text', mimeType: 'text/plain; charset=utf-8', bytes: 10, createdAt: upload.createdAt.toISOString(), expiresAt: upload.expiresAt.toISOString() });
    expect(await new ListUploads(uploads, clock).execute(caller(owner))).toEqual({ items: [view] });
    await expect(new GetUpload(uploads, clock).execute(upload.id, caller(randomUUID()))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(await new ListUploads(uploads, clock).execute(caller(randomUUID()))).toEqual({ items: [] });
    await expect(new ListUploads(uploads, clock).execute({ requestId: 'r1' })).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('DeleteUpload removes the row and the object; another user’s id is 404 and deletes nothing', async () => {
    const owner = randomUUID();
    const upload = await storedUpload(owner);
    const deleteUpload = new DeleteUpload(transactor, uploads, store, clock);
    await expect(deleteUpload.execute(upload.id, caller(randomUUID()))).rejects.toMatchObject({ status: 404 });
    expect(await rowCount(upload.id)).toBe(1);
    await deleteUpload.execute(upload.id, caller(owner));
    expect(await rowCount(upload.id)).toBe(0);
    await expect(store.get(upload.objectKey)).rejects.toThrow();
  });

  it('DeleteUpload answers 404 for an upload past its 7 days, as reads do, and leaves it to the sweeper', async () => {
    const owner = randomUUID();
    const upload = await storedUpload(owner);
    const later = new ShiftableClock();
    later.setOffset(upload.expiresAt.getTime() - Date.now() + 1_000);
    await expect(new DeleteUpload(transactor, uploads, store, later).execute(upload.id, caller(owner))).rejects.toMatchObject({ status: 404 });
    expect(await rowCount(upload.id)).toBe(1);
  });
});

describe('purges join the event consumer’s transaction', () => {
  it('a purge inside a batch that rolls back keeps the row and writes no receipt', async () => {
    const upload = await storedUpload(randomUUID());
    await expect(
      dataSource.transaction((manager) =>
        withinTransaction(manager, async () => {
          await purge.one(upload.id, upload.userId, { type: UploadExpiredV1.type, messageId: randomUUID() });
          throw new Error('batch failed');
        }),
      ),
    ).rejects.toThrow('batch failed');
    expect(await rowCount(upload.id)).toBe(1);
    expect(await dataSource.query("SELECT 1 FROM media.outbox WHERE payload->>'scopeId' = $1", [upload.id])).toHaveLength(0);
  });

  it('the sweep pass deletes what is past its 7 days (and the grace day) and confirms each with PurgeCompleted', async () => {
    const old = await storedUpload(randomUUID(), addDays(clock.now(), -9));
    const young = await storedUpload(randomUUID());
    expect(await purge.expired()).toBeGreaterThanOrEqual(1);
    expect(await rowCount(old.id)).toBe(0);
    expect(await rowCount(young.id)).toBe(1);
    const receipts = await dataSource.query<Array<{ counts: unknown }>>("SELECT payload->'counts' AS counts FROM media.outbox WHERE type = 'PurgeCompleted.v1' AND payload->>'scopeId' = $1", [old.id]);
    expect(receipts).toEqual([{ counts: { uploads: 1, objects: 1 } }]);
  });

  it('one upload whose object cannot be removed does not hold back the others that are due', async () => {
    const stuck = await storedUpload(randomUUID(), addDays(clock.now(), -30));
    const others = [await storedUpload(randomUUID(), addDays(clock.now(), -9)), await storedUpload(randomUUID(), addDays(clock.now(), -9))];
    // The store refuses to remove the stuck upload's object, every time.
    const refusing = Object.create(store) as typeof store;
    refusing.remove = (keys: string[]) => (keys.includes(stuck.objectKey) ? Promise.reject(new Error('AccessDenied')) : store.remove(keys));
    const sweeping = new PurgeUploads(transactor, uploads, refusing, outbox, tombstones, holds, clock);
    // Batches of one: the stuck upload is the oldest, so every batch would pick it first.
    await expect(sweeping.expired(1)).rejects.toThrow(/1 expired upload\(s\) could not be purged/);
    for (const other of others) expect(await rowCount(other.id)).toBe(0);
    expect(await rowCount(stuck.id)).toBe(1);
    await store.remove([stuck.objectKey]);
    await uploads.deleteById(stuck.id);
  });
});

describe('deleted content takes its source uploads with it (§2.1.6)', () => {
  it('ContentDeleted removes the owner’s named uploads (row and object), never another user’s, and confirms each id', async () => {
    const owner = randomUUID();
    const stranger = randomUUID();
    const [first, second, kept] = [await storedUpload(owner), await storedUpload(owner), await storedUpload(owner)];
    const foreign = await storedUpload(stranger);
    const messageId = randomUUID();
    const trigger = { type: 'ContentDeleted.v1', messageId };
    await dataSource.transaction((manager) => withinTransaction(manager, () => purge.ofDeletedContent(owner, [first.id, second.id, foreign.id, first.id], trigger)));
    expect(await rowCount(first.id)).toBe(0);
    expect(await rowCount(second.id)).toBe(0);
    expect(await rowCount(kept.id)).toBe(1);
    expect(await rowCount(foreign.id)).toBe(1);
    await expect(store.stat(first.objectKey)).resolves.toBeNull();
    expect(await store.stat(foreign.objectKey)).not.toBeNull();
    const receipts = await dataSource.query<Array<{ scopeId: string; counts: unknown }>>(
      "SELECT payload->>'scopeId' AS \"scopeId\", payload->'counts' AS counts FROM media.outbox WHERE type = 'PurgeCompleted.v1' AND payload->'trigger'->>'messageId' = $1 ORDER BY payload->>'scopeId'",
      [messageId],
    );
    expect(receipts).toEqual(
      [
        { scopeId: first.id, counts: { uploads: 1, objects: 1 } },
        { scopeId: second.id, counts: { uploads: 1, objects: 1 } },
        { scopeId: foreign.id, counts: { uploads: 0, objects: 0 } },
      ].sort((a, b) => a.scopeId.localeCompare(b.scopeId)),
    );
    // Redelivered: nothing more to delete, the receipts say so.
    await dataSource.transaction((manager) => withinTransaction(manager, () => purge.ofDeletedContent(owner, [first.id], { type: 'ContentDeleted.v1', messageId: randomUUID() })));
    expect(await rowCount(kept.id)).toBe(1);
  });
});

describe('an upload past its 7 days is gone for reads at once (§5.3), before any sweep', () => {
  it('GetUpload, ListUploads and GetUploadFile answer 404 / nothing by the service clock, while the row still waits for the sweep', async () => {
    const owner = randomUUID();
    const upload = await storedUpload(owner);
    const later = new ShiftableClock();
    const reads = { get: new GetUpload(uploads, later), list: new ListUploads(uploads, later), file: new GetUploadFile(uploads, store, later) };
    expect((await reads.list.execute(caller(owner))).items).toHaveLength(1);
    expect((await reads.file.execute(upload.id, caller(owner))).bytes).toBe(10);
    later.advance(7 * 24 * 3600 * 1000 + 60_000);
    await expect(reads.get.execute(upload.id, caller(owner))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(reads.file.execute(upload.id, caller(owner))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(await reads.list.execute(caller(owner))).toEqual({ items: [] });
    expect(await rowCount(upload.id)).toBe(1);
  });
});

describe('one sweep drains everything due', () => {
  it('removes 2,500 due uploads — rows and objects — in one run, and confirms each', async () => {
    const owners = Array.from({ length: 25 }, () => randomUUID());
    const createdAt = addDays(clock.now(), -9);
    const due: Array<{ id: string; objectKey: string }> = [];
    // Objects written 25 at a time (one owner each), rows in one statement.
    for (let round = 0; round < 100; round++) {
      due.push(
        ...(await Promise.all(
          owners.map(async (owner) => {
            const id = randomUUID();
            const stored = await store.put(owner, `uploads/${id}`, Buffer.from('due'), { size: 3, contentType: 'text/plain; charset=utf-8' });
            return { id, owner, objectKey: stored.key };
          }),
        )),
      );
    }
    await dataSource.query(
      `INSERT INTO media.uploads (id, user_id, kind, mime_type, bytes, object_key, created_at, expires_at)
       SELECT id, user_id, 'text', 'text/plain; charset=utf-8', 3, object_key, $4, $5 FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(id, user_id, object_key)`,
      [due.map((u) => u.id), due.map((u) => (u as unknown as { owner: string }).owner), due.map((u) => u.objectKey), createdAt, addDays(createdAt, 7)],
    );
    const started = performance.now();
    const purged = await purge.expired();
    const seconds = (performance.now() - started) / 1000;
    expect(purged).toBeGreaterThanOrEqual(2_500);
    const ids = due.map((u) => u.id);
    expect(await dataSource.query('SELECT 1 FROM media.uploads WHERE id = ANY($1::uuid[])', [ids])).toHaveLength(0);
    for (const owner of owners) expect(await store.listOwnerKeys(owner)).toEqual([]);
    const [receipts] = await dataSource.query<Array<{ n: number }>>("SELECT count(*)::int AS n FROM media.outbox WHERE type = 'PurgeCompleted.v1' AND payload->>'scopeId' = ANY($1::text[]) AND payload->'counts' = '{\"uploads\": 1, \"objects\": 1}'::jsonb", [ids]);
    expect(receipts!.n).toBe(2_500);
    process.stdout.write(`sweep of 2,500 due uploads: ${seconds.toFixed(2)} s\n`);
  }, 180_000);
});

describe('tombstones: nothing is stored for a user after media purged them (defect 8)', () => {
  const storeUpload = () => new StoreUpload(transactor, uploads, store, outbox, tombstones, new UploadWorkDirs(config, logger), new ImageTransformer(), new AvTransformer(), new Moderator([]), clock, config, logger, new UploadMetrics(new ServiceMetrics('media-test')));
  const objectsOf = (owner: string) => store.listOwnerKeys(owner);

  it('an upload still streaming when UserDeleted is processed is refused (401) when it ends; no row, no object, and the receipt counts what there was', async () => {
    const owner = randomUUID();
    const earlier = await storedUpload(owner);
    const body = new PassThrough();
    body.write('the first half of a note, ');
    const uploading = storeUpload().execute(body, { filename: 'note.txt' }, caller(owner));
    const refused = expect(uploading).rejects.toMatchObject({ status: 401, code: 'unauthorized', message: expect.stringMatching(/deleted/) });
    // The body is being written to the work directory while the account is purged.
    await eventually(async () => (await readdir(config.MEDIA_TMP_DIR)).length === 1, { what: 'the upload in progress' });
    const messageId = randomUUID();
    await dataSource.transaction((manager) => withinTransaction(manager, () => purge.allOfUser(owner, randomUUID(), { type: UserDeletedV1.type, messageId })));
    body.end('and the second half.\n');
    await refused;
    expect(await dataSource.query('SELECT 1 FROM media.uploads WHERE user_id = $1', [owner])).toHaveLength(0);
    expect(await objectsOf(owner)).toEqual([]);
    const [receipt] = await dataSource.query<Array<{ counts: unknown }>>("SELECT payload->'counts' AS counts FROM media.outbox WHERE type = 'PurgeCompleted.v1' AND payload->'trigger'->>'messageId' = $1", [messageId]);
    expect(receipt!.counts).toEqual({ uploads: 1, objects: 1 });
    expect(await rowCount(earlier.id)).toBe(0);
    expect(await readdir(config.MEDIA_TMP_DIR)).toEqual([]);
  });

  it('an upload started after the purge is refused before its body is read', async () => {
    const owner = randomUUID();
    await dataSource.transaction((manager) => withinTransaction(manager, () => purge.allOfUser(owner, randomUUID(), { type: UserDeletedV1.type, messageId: randomUUID() })));
    const body = new PassThrough();
    await expect(storeUpload().execute(body, {}, caller(owner))).rejects.toMatchObject({ status: 401 });
    expect(body.readableLength).toBe(0);
    expect(await objectsOf(owner)).toEqual([]);
  });
});

describe('media_uploads_total (R9.1)', () => {
  it('counts stored uploads by kind and refusals by reason, with every known series at 0 from the start', async () => {
    const metrics = new ServiceMetrics('media-uploads-test');
    const storeUpload = new StoreUpload(transactor, uploads, store, outbox, tombstones, new UploadWorkDirs(config, logger), new ImageTransformer(), new AvTransformer(), new Moderator([]), clock, config, logger, new UploadMetrics(metrics));
    const count = async (labels: string): Promise<number | undefined> => {
      const line = (await metrics.metricsText()).split('\n').find((l) => l.startsWith(`media_uploads_total{${labels},service="media-uploads-test"}`));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    expect(await count('kind="text",outcome="stored",reason="none"')).toBe(0);
    expect(await count('kind="unknown",outcome="rejected",reason="empty_file"')).toBe(0);
    const owner = randomUUID();
    const note = new PassThrough();
    note.end('a short note\n');
    await storeUpload.execute(note, { filename: 'note.txt' }, caller(owner));
    const empty = new PassThrough();
    empty.end();
    await expect(storeUpload.execute(empty, { filename: 'empty.txt' }, caller(owner))).rejects.toMatchObject({ code: 'empty_file' });
    expect(await count('kind="text",outcome="stored",reason="none"')).toBe(1);
    expect(await count('kind="unknown",outcome="rejected",reason="empty_file"')).toBe(1);
    expect(await metrics.metricsText()).not.toContain(owner);
    expect(catalogueViolations(await metrics.metricsText())).toEqual([]);
  });
});

describe('UploadWorkDirs (stale originals cleared at start, R3.2)', () => {
  it('removes every upload-* directory no running process owns, and only those', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'media-workdirs-'));
    const workDirs = new UploadWorkDirs({ ...config, MEDIA_TMP_DIR: dir }, logger);
    const deadPid = 2 ** 22 + 17; // above the kernel's pid_max: never a running process
    for (const name of ['upload-AbC123', `upload-${deadPid}-XyZ789`, `upload-${process.pid}-OwnOld`, `upload-${process.ppid}-Live01`]) {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'original'), 'a left-behind original');
    }
    await writeFile(join(dir, 'unrelated'), 'not ours');
    await workDirs.onModuleInit();
    expect((await readdir(dir)).sort()).toEqual(['unrelated', `upload-${process.ppid}-Live01`]);
    const fresh = await workDirs.create();
    expect(fresh.startsWith(join(dir, `upload-${process.pid}-`))).toBe(true);
    await rm(dir, { recursive: true, force: true });
    expect(await workDirs.clearStale()).toBe(0);
  });
});

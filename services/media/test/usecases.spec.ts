import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { addDays, ShiftableClock } from '@homiwork/clock';
import { UploadExpiredV1 } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { createServiceDataSource, Database, runMigrations, Transactor, withinTransaction } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';
import { MEDIA_MIGRATIONS } from '../src/migrations/index.js';
import { EventsOutbox } from '../src/persistence/events-outbox.js';
import { UploadsRepository } from '../src/persistence/uploads.repository.js';
import { DeleteUpload } from '../src/usecases/delete-upload/delete-upload.usecase.js';
import { GetUpload } from '../src/usecases/get-upload/get-upload.usecase.js';
import { ListUploads } from '../src/usecases/list-uploads/list-uploads.usecase.js';
import { PurgeUploads } from '../src/usecases/purge-uploads/purge-uploads.usecase.js';

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
  purge = new PurgeUploads(transactor, uploads, store, new EventsOutbox(new Outbox('media', 'hw', clock), db), clock);
});
afterAll(async () => {
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
    const view = await new GetUpload(uploads).execute(upload.id, caller(owner));
    expect(view).toEqual({ id: upload.id, kind: 'text', mimeType: 'text/plain; charset=utf-8', bytes: 10, createdAt: upload.createdAt.toISOString(), expiresAt: upload.expiresAt.toISOString() });
    expect(await new ListUploads(uploads).execute(caller(owner))).toEqual({ items: [view] });
    await expect(new GetUpload(uploads).execute(upload.id, caller(randomUUID()))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(await new ListUploads(uploads).execute(caller(randomUUID()))).toEqual({ items: [] });
    await expect(new ListUploads(uploads).execute({ requestId: 'r1' })).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('DeleteUpload removes the row and the object; another user’s id is 404 and deletes nothing', async () => {
    const owner = randomUUID();
    const upload = await storedUpload(owner);
    const deleteUpload = new DeleteUpload(transactor, uploads, store);
    await expect(deleteUpload.execute(upload.id, caller(randomUUID()))).rejects.toMatchObject({ status: 404 });
    expect(await rowCount(upload.id)).toBe(1);
    await deleteUpload.execute(upload.id, caller(owner));
    expect(await rowCount(upload.id)).toBe(0);
    await expect(store.get(upload.objectKey)).rejects.toThrow();
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

  it('the sweep pass deletes what is past its 7 days and confirms each with PurgeCompleted', async () => {
    const old = await storedUpload(randomUUID(), addDays(clock.now(), -8));
    const young = await storedUpload(randomUUID());
    expect(await purge.expired()).toBeGreaterThanOrEqual(1);
    expect(await rowCount(old.id)).toBe(0);
    expect(await rowCount(young.id)).toBe(1);
    const receipts = await dataSource.query<Array<{ counts: unknown }>>("SELECT payload->'counts' AS counts FROM media.outbox WHERE type = 'PurgeCompleted.v1' AND payload->>'scopeId' = $1", [old.id]);
    expect(receipts).toEqual([{ counts: { uploads: 1, objects: 1 } }]);
  });
});

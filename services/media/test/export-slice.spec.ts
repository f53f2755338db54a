import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_PAGE_TARGET_BYTES, exportSliceRoute, type ExportSlicePage } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { startService, type StartedService } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { mediaConfigSchema, type MediaConfig } from '../src/config.js';
import { MediaModule } from '../src/media.module.js';
import { ExportSlice } from '../src/usecases/export-slice/export-slice.usecase.js';

// R7.1: media's export slice, asked over NATS as retention asks it, from the media service
// as it runs (Nest module, real transport) on the real PostgreSQL, NATS and a local S3.

const Route = exportSliceRoute('media');
let database: TestDatabase;
let s3: LocalS3;
let store: ObjectStore;
let config: MediaConfig;
let service: StartedService;
let nc: NatsConnection;
let rpc: RpcClient;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  s3 = await startLocalS3();
  const namespace = createTestNamespace();
  config = mediaConfigSchema.parse({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    OPS_PORT: '0',
    S3_URL: s3.url,
    INTERNAL_API_TOKEN: 'x'.repeat(32),
    MEDIA_TMP_DIR: await mkdtemp(join(tmpdir(), 'media-export-')),
    UPLOAD_SWEEP_INTERVAL_MS: String(3_600_000),
  });
  service = await startService(MediaModule.forRoot(config), config, { service: 'media' });
  store = new ObjectStore(s3.config, { service: 'media' });
  nc = await connect({ servers: TEST_NATS_URL, name: 'media-export-test' });
  rpc = new RpcClient(nc, namespace, 10_000);
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
});
afterAll(async () => {
  await service?.close();
  await nc?.close();
  await pool?.end();
  await s3?.stop();
  await database?.drop();
  if (config) await rm(config.MEDIA_TMP_DIR, { recursive: true, force: true });
});

const asRetention = () => ({ requestId: randomUUID() });
const slice = (userId: string, cursor?: string) => rpc.call(Route, { userId, ...(cursor === undefined ? {} : { cursor }) }, asRetention());

interface Seeded {
  id: string;
  objectKey: string;
  data: Buffer;
}

async function seedUpload(userId: string, options: { kind?: string; mimeType?: string; data?: Buffer; width?: number; height?: number; createdAt?: Date } = {}): Promise<Seeded> {
  const id = randomUUID();
  const data = options.data ?? Buffer.from(`bytes of ${id}`);
  const mimeType = options.mimeType ?? 'text/plain; charset=utf-8';
  const { key } = await store.put(userId, `uploads/${id}`, data, { size: data.length, contentType: mimeType });
  const createdAt = options.createdAt ?? new Date();
  await pool.query(
    `INSERT INTO media.uploads (id, user_id, kind, mime_type, bytes, width, height, duration_ms, object_key, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10)`,
    [id, userId, options.kind ?? 'text', mimeType, data.length, options.width ?? null, options.height ?? null, key, createdAt, new Date(createdAt.getTime() + 7 * 86_400_000)],
  );
  return { id, objectKey: key, data };
}

async function allPages(read: (cursor?: string) => Promise<ExportSlicePage>): Promise<ExportSlicePage[]> {
  const pages: ExportSlicePage[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
    if (pages.length > 1000) throw new Error('the export never ends');
  } while (cursor !== undefined);
  return pages;
}

describe('media export slice', () => {
  it("holds the user's uploads (facts, no keys) and their files by signed URL, and nothing of another user", async () => {
    const owner = randomUUID();
    const other = randomUUID();
    const t0 = new Date(Date.now() - 60_000);
    const image = await seedUpload(owner, { kind: 'image', mimeType: 'image/webp', data: Buffer.from([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0, 255]), width: 640, height: 480, createdAt: t0 });
    const text = await seedUpload(owner, { createdAt: new Date(t0.getTime() + 1_000) });
    const theirs = await seedUpload(other, { createdAt: new Date(t0.getTime() + 500) });

    const page = await slice(owner);
    expect(page.nextCursor).toBeNull();
    expect(page.collections).toEqual({
      uploads: [
        {
          id: image.id,
          kind: 'image',
          mimeType: 'image/webp',
          bytes: 10,
          width: 640,
          height: 480,
          durationMs: null,
          createdAt: t0.toISOString(),
          expiresAt: new Date(t0.getTime() + 7 * 86_400_000).toISOString(),
          file: `uploads/${image.id}.webp`,
        },
        expect.objectContaining({ id: text.id, kind: 'text', mimeType: 'text/plain; charset=utf-8', bytes: text.data.length, file: `uploads/${text.id}.txt` }),
      ],
    });
    expect(page.files.map(({ path, mimeType, bytes }) => ({ path, mimeType, bytes }))).toEqual([
      { path: `uploads/${image.id}.webp`, mimeType: 'image/webp', bytes: 10 },
      { path: `uploads/${text.id}.txt`, mimeType: 'text/plain; charset=utf-8', bytes: text.data.length },
    ]);
    for (const [index, seeded] of [image, text].entries()) {
      const response = await fetch(page.files[index]!.url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(seeded.data);
    }
    // The signed URL is short-lived (≤ 15 min).
    const expires = Number(new URL(page.files[0]!.url).searchParams.get('X-Amz-Expires'));
    expect(expires).toBeGreaterThan(0);
    expect(expires).toBeLessThanOrEqual(15 * 60);
    // Nothing of the other user, no owner id, no object key in the records.
    const records = JSON.stringify(page.collections);
    for (const absent of [other, theirs.id, theirs.objectKey, owner, image.objectKey]) expect(records).not.toContain(absent);
    expect(JSON.stringify(page)).not.toContain(theirs.id);
  });

  it('pages by a cursor: every upload exactly once, in order, each page within its byte target; the cursor works over NATS too', async () => {
    const owner = randomUUID();
    const start = Date.now() - 3_600_000;
    // Two with the same created_at: the id orders them.
    const seeded: Seeded[] = [];
    for (let index = 0; index < 23; index++) seeded.push(await seedUpload(owner, { createdAt: new Date(start + Math.min(index, 21) * 1_000) }));
    await seedUpload(randomUUID(), { createdAt: new Date(start + 5_500) });
    const useCase = service.app.get(ExportSlice);
    const target = 2_000;
    const pages = await allPages((cursor) => useCase.execute({ userId: owner, ...(cursor === undefined ? {} : { cursor }) }, target));
    expect(pages.length).toBeGreaterThan(3);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(target);
    const expected = seeded.map((upload, index) => ({ id: upload.id, at: Math.min(index, 21) })).sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((upload) => upload.id);
    const got = pages.flatMap((page) => page.collections.uploads!.map((item) => item.id as string));
    expect(got).toEqual(expected);
    expect(pages.flatMap((page) => page.files.map((file) => file.path.slice('uploads/'.length, 'uploads/'.length + 36)))).toEqual(got);

    // The second page asked over NATS with the first page's cursor is the same page.
    const second = await slice(owner, pages[0]!.nextCursor!);
    expect(second.collections.uploads!.map((item) => item.id)).toEqual(
      (await useCase.execute({ userId: owner, cursor: pages[0]!.nextCursor! }, EXPORT_PAGE_TARGET_BYTES)).collections.uploads!.map((item) => item.id),
    );
    expect(second.collections.uploads!.map((item) => item.id)).toEqual(got.slice(pages[0]!.collections.uploads!.length));

    // Someone else's cursor used with another user's id reads only that user's rows.
    const stranger = randomUUID();
    expect(await slice(stranger, pages[1]!.nextCursor!)).toEqual({ collections: { uploads: [] }, files: [], nextCursor: null });
  });

  it('an unknown user answers empty collections', async () => {
    expect(await slice(randomUUID())).toEqual({ collections: { uploads: [] }, files: [], nextCursor: null });
  });

  it('a cursor it never gave out is a 400 naming the field, and so is a user id that is not one', async () => {
    for (const cursor of ['nonsense', 'uploads:2026-01-01', 'contents:', 'uploads:2026-01-01T00:00:00.000000Z|not-a-uuid']) {
      await expect(slice(randomUUID(), cursor)).rejects.toMatchObject({ status: 400, code: 'invalid_cursor', message: expect.stringContaining('cursor') });
    }
    await expect(rpc.call(Route, { userId: 'not-a-user' }, asRetention())).rejects.toMatchObject({ status: 400, message: expect.stringContaining('userId') });
  });
});

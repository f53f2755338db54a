import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3, type LocalS3 } from './local-s3.js';
import { MAX_SIGNED_URL_SECONDS, ObjectStore } from './object-store.js';
import { StorageError } from './storage-error.js';

// Real s3rver over the network, real minio client: nothing here is mocked.
const MiB = 1024 * 1024;
let s3: LocalS3;
const requests: { method: string; url: string }[] = [];
let media: ObjectStore;

beforeAll(async () => {
  s3 = await startLocalS3({ onRequest: (request) => requests.push(request) });
  media = new ObjectStore(s3.config, { service: 'media' });
  await media.ensureBucket();
});
afterAll(async () => {
  await s3?.stop();
});

/** A body of `total` bytes in `chunk`-sized pieces, with no length known up front. */
function streamOf(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
    })(),
    { objectMode: false },
  );
}

/** Yields `bytes` bytes, then fails as a dropped client connection would. */
function failingStream(bytes: number, error: Error): Readable {
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += MiB) yield Buffer.alloc(MiB, 7);
      throw error;
    })(),
    { objectMode: false },
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function deleteRequestsSince(mark: number): number {
  return requests.slice(mark).filter((r) => r.method === 'POST' && /\?delete(?:$|[&=])/.test(r.url)).length;
}

async function putMany(store: ObjectStore, ownerId: string, count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, i) => `items/${start + i}.bin`);
    const results = await Promise.all(batch.map((name) => store.put(ownerId, name, Buffer.from(name), { contentType: 'application/octet-stream' })));
    keys.push(...results.map((r) => r.key));
  }
  return keys;
}

describe('ObjectStore against a local S3', () => {
  it('round-trips a streamed body: same bytes, size and type, and no user metadata', async () => {
    const owner = randomUUID();
    const data = randomBytes(300 * 1024 + 17);

    const { key, bytes } = await media.put(owner, 'uploads/photo.jpg', streamOf(data), { contentType: 'image/jpeg' });

    expect(key).toBe(`media/${owner}/uploads/photo.jpg`);
    expect(bytes).toBe(data.length);
    expect(await readAll(await media.get(key))).toEqual(data);
    expect(await media.stat(key)).toEqual({ bytes: data.length, contentType: 'image/jpeg' });
    // Asked directly, the server holds nothing about the object but its type.
    const raw = new Client({ ...s3.config, region: 'us-east-1' });
    const { metaData } = await raw.statObject(s3.config.bucket, key);
    expect(Object.keys(metaData)).toEqual(['content-type']);
  });

  it('stores empty bodies and buffers', async () => {
    const owner = randomUUID();
    const empty = await media.put(owner, 'empty', streamOf(Buffer.alloc(0)), { contentType: 'text/plain', size: 0 });
    const buffer = await media.put(owner, 'buffer.txt', Buffer.from('hello'), { contentType: 'text/plain; charset=utf-8' });
    expect(await media.stat(empty.key)).toMatchObject({ bytes: 0 });
    expect(buffer.bytes).toBe(5);
    expect((await readAll(await media.get(buffer.key))).toString()).toBe('hello');
  });

  it('refuses a body whose length differs from the declared size, storing nothing', async () => {
    const owner = randomUUID();
    await expect(media.put(owner, 'a', Buffer.from('abc'), { contentType: 'text/plain', size: 4 })).rejects.toThrow(RangeError);
    await expect(media.put(owner, 'b', streamOf(Buffer.from('abcdef')), { contentType: 'text/plain', size: 3 })).rejects.toThrow(RangeError);
    expect(await media.listOwnerKeys(owner)).toEqual([]);
  });

  it('uploads a long stream of unknown length part by part', async () => {
    const store = new ObjectStore(s3.config, { service: 'media', partSizeBytes: 5 * MiB });
    const owner = randomUUID();
    const data = randomBytes(12 * MiB + 3);
    const mark = requests.length;

    const { key, bytes } = await store.put(owner, 'video.mp4', streamOf(data), { contentType: 'video/mp4' });

    expect(bytes).toBe(data.length);
    expect(requests.slice(mark).filter((r) => r.method === 'PUT' && r.url.includes('partNumber=')).length).toBe(3);
    expect(sha256(await readAll(await store.get(key)))).toBe(sha256(data));
    expect(await store.stat(key)).toEqual({ bytes: data.length, contentType: 'video/mp4' });
  });

  it('undoes a multipart upload whose body is longer or shorter than declared', async () => {
    const store = new ObjectStore(s3.config, { service: 'media', partSizeBytes: 5 * MiB });
    const owner = randomUUID();
    const data = randomBytes(7 * MiB);
    await expect(store.put(owner, 'long', streamOf(data), { contentType: 'video/mp4', size: 6 * MiB })).rejects.toThrow(RangeError);
    await expect(store.put(owner, 'short', streamOf(data), { contentType: 'video/mp4', size: 8 * MiB })).rejects.toThrow(RangeError);
    expect(await store.listOwnerKeys(owner)).toEqual([]);
  });

  it("passes a failing body's error on instead of hanging", { timeout: 10_000 }, async () => {
    const store = new ObjectStore(s3.config, { service: 'media', partSizeBytes: 5 * MiB });
    const owner = randomUUID();
    const dropped = new Error('client went away');
    await expect(store.put(owner, 'small', failingStream(MiB, dropped), { contentType: 'video/mp4' })).rejects.toBe(dropped);
    await expect(store.put(owner, 'large', failingStream(7 * MiB, dropped), { contentType: 'video/mp4' })).rejects.toBe(dropped);
    expect(await store.listOwnerKeys(owner)).toEqual([]);
  });

  it("keeps every key under the owner's prefix and refuses anything else", async () => {
    const owner = randomUUID();
    const { key } = await media.put(owner, 'a.txt', Buffer.from('a'), { contentType: 'text/plain' });
    expect(key.startsWith(`media/${owner}/`)).toBe(true);
    const options = { contentType: 'text/plain' };

    for (const ownerId of ['', 'not-a-uuid', owner.toUpperCase(), '00000000-0000-0000-0000-000000000000', `${owner}/..`]) {
      await expect(media.put(ownerId, 'a', Buffer.from('x'), options), ownerId).rejects.toThrow(TypeError);
      await expect(media.listOwnerKeys(ownerId), ownerId).rejects.toThrow(TypeError);
      await expect(media.removeAllForOwner(ownerId), ownerId).rejects.toThrow(TypeError);
    }
    for (const name of ['../x', `../${randomUUID()}/a`, '/abs', 'a/../../b', 'a\u0000b', 'a\nb', '']) {
      await expect(media.put(owner, name, Buffer.from('x'), options), JSON.stringify(name)).rejects.toThrow(TypeError);
    }
    // Another service's store cannot address media's objects, even with a valid key.
    const generation = new ObjectStore(s3.config, { service: 'generation' });
    await expect(generation.get(key)).rejects.toThrow(TypeError);
    await expect(generation.remove([key])).rejects.toThrow(TypeError);
    for (const bad of [`media/${owner}/../${randomUUID()}/a.txt`, `media/${owner}`, `/${key}`]) {
      await expect(media.get(bad), bad).rejects.toThrow(TypeError);
      await expect(media.stat(bad), bad).rejects.toThrow(TypeError);
      await expect(media.signedGetUrl(bad, 60), bad).rejects.toThrow(TypeError);
    }
    // One bad key stops the whole batch before anything is deleted.
    await expect(media.remove([key, `media/${owner}/../x`])).rejects.toThrow(TypeError);
    expect(await media.stat(key)).not.toBeNull();
    // Header-shaped or metadata-carrying content types are refused too.
    await expect(media.put(owner, 'b', Buffer.from('x'), { contentType: 'text/plain\r\nx-amz-meta-name: Jane' })).rejects.toThrow(TypeError);
    await expect(media.put(owner, 'b', Buffer.from('x'), { contentType: 'text/plain; name="Jane Doe.txt"' })).rejects.toThrow(TypeError);
  });

  it("erases 2,500 objects of one owner in batches of 1,000 and leaves another owner's alone", async () => {
    const owner = randomUUID();
    const neighbour = randomUUID();
    await putMany(media, owner, 2500);
    const neighbourKeys = await putMany(media, neighbour, 3);

    const mark = requests.length;
    const removed = await media.removeAllForOwner(owner);

    expect(removed).toBe(2500);
    expect(deleteRequestsSince(mark)).toBe(3);
    expect(await media.listOwnerKeys(owner)).toEqual([]);
    expect((await media.listOwnerKeys(neighbour)).sort()).toEqual(neighbourKeys.sort());
  });

  it('sends one delete request per batch of the configured size', async () => {
    // The minio client splits at 1,000 itself, so only a smaller batch size shows that the
    // store does its own batching rather than leaning on the client's.
    const store = new ObjectStore(s3.config, { service: 'media', deleteBatchSize: 100 });
    const owner = randomUUID();
    const keys = await putMany(store, owner, 250);

    const mark = requests.length;
    expect(await store.remove(keys)).toBe(250);
    expect(deleteRequestsSince(mark)).toBe(3);
    expect(await store.listOwnerKeys(owner)).toEqual([]);
    expect(() => new ObjectStore(s3.config, { service: 'media', deleteBatchSize: 1001 })).toThrow(RangeError);
  });

  it('signs short-lived GET URLs that a plain HTTP client can download', async () => {
    const owner = randomUUID();
    const data = randomBytes(4096);
    const { key } = await media.put(owner, 'result.png', data, { contentType: 'image/png' });

    const response = await fetch(await media.signedGetUrl(key, MAX_SIGNED_URL_SECONDS));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(data);

    await expect(media.signedGetUrl(key, MAX_SIGNED_URL_SECONDS + 1)).rejects.toThrow(RangeError);
    await expect(media.signedGetUrl(key, 0)).rejects.toThrow(RangeError);
    await expect(media.signedGetUrl(key, 1.5)).rejects.toThrow(RangeError);
  });

  it('signed URLs stop working when they expire', async () => {
    const owner = randomUUID();
    const { key } = await media.put(owner, 'result.png', Buffer.from('x'), { contentType: 'image/png' });
    const url = await media.signedGetUrl(key, 1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const response = await fetch(url);
    await response.arrayBuffer();
    expect(response.status).toBe(403);
  });

  it('treats missing objects as absent, not as failures', async () => {
    const owner = randomUUID();
    const missing = media.keyFor(owner, 'never-written');
    expect(await media.stat(missing)).toBeNull();
    // S3 confirms a missing key as deleted; the count is of keys, see remove().
    await expect(media.remove([missing, missing, media.keyFor(owner, 'also-missing')])).resolves.toBe(2);
    await expect(media.remove([])).resolves.toBe(0);
    expect(await media.removeAllForOwner(owner)).toBe(0);
  });

  it('reports S3 failures by code only, without the key or owner', async () => {
    const owner = randomUUID();
    const error = await media.get(media.keyFor(owner, 'never-written')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ operation: 'get', code: 'NoSuchKey' });
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(owner);
    expect((error as StorageError).cause).toBeUndefined();
  });

  it('creates its bucket idempotently and answers readiness without throwing', async () => {
    const store = new ObjectStore({ ...s3.config, bucket: `extra-${randomUUID().slice(0, 8)}` }, { service: 'media' });
    expect(await store.ping()).toBe(false);
    await store.ensureBucket();
    await store.ensureBucket();
    await Promise.all([store.ensureBucket(), store.ensureBucket()]);
    expect(await store.ping()).toBe(true);
  });

  it('reports an unreachable store as not ready, and failures without personal data', async () => {
    const gone = await startLocalS3();
    await gone.stop();
    const store = new ObjectStore(gone.config, { service: 'media', pingTimeoutMs: 1000 });
    expect(await store.ping()).toBe(false);
    const owner = randomUUID();
    const error = await store.put(owner, 'a', Buffer.from('x'), { contentType: 'text/plain' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StorageError', operation: 'put', code: 'ECONNREFUSED' });
    expect((error as Error).message).not.toContain(owner);
  });
});

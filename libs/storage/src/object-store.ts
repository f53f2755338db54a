import { Readable } from 'node:stream';
import { Client, type ItemBucketMetadata } from 'minio';
import { assertService, objectKey, ownerPrefix, parseObjectKey } from './object-key.js';
import { assertBucketName, type StorageConfig } from './storage-config.js';
import { toStorageError, StorageError } from './storage-error.js';

/** Presigned URLs hand data to whoever holds the link, so they stay short-lived. */
export const MAX_SIGNED_URL_SECONDS = 15 * 60;
/** S3's DeleteObjects refuses more keys than this in one request. */
const MAX_DELETE_BATCH = 1000;
const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
// Erasure lists and deletes until a listing comes back empty; uploads that keep arriving
// for an owner being erased are a bug elsewhere, reported rather than chased forever.
const ERASURE_ROUNDS = 3;

export interface ObjectStoreOptions {
  /** First segment of every key: the service that owns the objects. */
  service: string;
  /** Keys per DeleteObjects request, at most 1,000 (the default). */
  deleteBatchSize?: number;
  /**
   * Multipart part size (at least 5 MiB, default 64 MiB). A stream no longer than this is
   * buffered and sent in one PUT; a longer one is uploaded part by part, so memory per
   * upload stays near one part whatever the object size.
   */
  partSizeBytes?: number;
  /** How long ping() waits before reporting the store as not ready. */
  pingTimeoutMs?: number;
}

export interface PutOptions {
  /** Expected length; the upload is refused (or undone) when the body differs. */
  size?: number;
  contentType: string;
}

// type/subtype with an optional charset: nothing a caller could smuggle a filename into.
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}(?:; ?charset=[a-z0-9_.:-]{1,32})?$/i;

/**
 * The one place that talks S3. Services get an instance by injection and address objects
 * only through their owner's prefix (`${service}/${ownerId}/`), which is what lets
 * erasure remove everything of a user with one listing.
 */
export class ObjectStore {
  private readonly client: Client;
  private readonly bucket: string;
  private readonly region: string;
  private readonly service: string;
  private readonly deleteBatchSize: number;
  private readonly partSize: number;
  private readonly pingTimeoutMs: number;

  constructor(config: StorageConfig, options: ObjectStoreOptions) {
    assertService(options.service);
    assertBucketName(config.bucket);
    this.service = options.service;
    this.bucket = config.bucket;
    this.region = config.region ?? 'us-east-1';
    this.deleteBatchSize = options.deleteBatchSize ?? MAX_DELETE_BATCH;
    if (!Number.isInteger(this.deleteBatchSize) || this.deleteBatchSize < 1 || this.deleteBatchSize > MAX_DELETE_BATCH) {
      throw new RangeError(`deleteBatchSize must be an integer from 1 to ${MAX_DELETE_BATCH}`);
    }
    this.partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new RangeError('partSizeBytes must be an integer of at least 5 MiB');
    }
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    this.client = new Client({
      endPoint: config.endPoint,
      port: config.port,
      useSSL: config.useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      // Without a region the client asks the server for it first; when the config has
      // none it still does, so only a configured region is passed on.
      ...(config.region === undefined ? {} : { region: config.region }),
      // An explicit part size also fixes the part size of streams of unknown length,
      // which the client would otherwise size for a 5 TiB object (~550 MB per part).
      partSize: this.partSize,
    });
  }

  /** The key `put(ownerId, name)` writes to; throws on an invalid owner or name. */
  keyFor(ownerId: string, name: string): string {
    return objectKey(this.service, ownerId, name);
  }

  async ensureBucket(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return;
      await this.client.makeBucket(this.bucket, this.region);
    } catch (error) {
      // Another replica may have created it between the check and the create; MinIO says
      // BucketAlreadyOwnedByYou, s3rver BucketAlreadyExists. Either is fine if it is there.
      const code = (error as { code?: unknown }).code;
      if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') {
        if (await this.client.bucketExists(this.bucket).catch(() => false)) return;
      }
      throw toStorageError('ensureBucket', error);
    }
  }

  /**
   * Uploads under the owner's prefix. Only Content-Type is sent: no user metadata, so an
   * original filename or similar cannot end up stored next to the bytes.
   */
  async put(ownerId: string, name: string, body: Readable | Buffer, options: PutOptions): Promise<{ key: string; bytes: number }> {
    const key = this.keyFor(ownerId, name);
    if (!CONTENT_TYPE.test(options.contentType)) throw new TypeError('contentType must be a plain media type');
    const { size } = options;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new RangeError('size must be a non-negative integer');
    const headers: ItemBucketMetadata = { 'Content-Type': options.contentType };

    if (Buffer.isBuffer(body)) {
      if (size !== undefined && size !== body.length) throw new RangeError('body length differs from size');
      await this.call('put', () => this.client.putObject(this.bucket, key, body, body.length, headers));
      return { key, bytes: body.length };
    }

    // Read up to one part: a body that ends there goes in a single PUT (this is also what
    // the client would do, and an empty body cannot be sent as a zero-part multipart upload).
    // A failing body is the caller's error and is passed on as it is.
    const head = await readHead(body, this.partSize).catch((error: unknown) => {
      body.destroy();
      throw error;
    });
    if (head.done) {
      const buffer = Buffer.concat(head.chunks);
      if (size !== undefined && size !== buffer.length) throw new RangeError('body length differs from size');
      await this.call('put', () => this.client.putObject(this.bucket, key, buffer, buffer.length, headers));
      return { key, bytes: buffer.length };
    }
    return this.putMultipart(key, head, size, headers, body);
  }

  private async putMultipart(key: string, head: Head, size: number | undefined, headers: ItemBucketMetadata, body: Readable): Promise<{ key: string; bytes: number }> {
    let bytes = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (;;) {
        const chunk = head.chunks.shift() ?? (await nextChunk(head.iterator));
        if (chunk === undefined) return;
        bytes += chunk.length;
        if (size !== undefined && bytes > size) throw new RangeError('body is longer than size');
        yield chunk;
      }
    }
    const stream = Readable.from(counted(), { objectMode: false });
    // The client pipes the body without listening for its errors, so a failing body would
    // leave the upload pending forever (and an unheard 'error' would crash the process):
    // listen first, and race the upload against the body's failure.
    let bodyError: unknown;
    const bodyFailed = new Promise<never>((_, reject) =>
      stream.once('error', (error) => {
        bodyError = error;
        reject(error);
      }),
    );
    bodyFailed.catch(() => undefined);
    const upload = this.client.putObject(this.bucket, key, stream, undefined, headers);
    upload.catch(() => undefined);
    try {
      await Promise.race([upload, bodyFailed]);
    } catch (error) {
      body.destroy();
      // What is left is an incomplete multipart upload, which the server discards
      // (MinIO after 24 h by default; AbortIncompleteMultipartUpload on S3).
      throw error === bodyError ? error : toStorageError('put', error);
    }
    if (size !== undefined && bytes !== size) {
      await this.remove([key]);
      throw new RangeError('body is shorter than size');
    }
    return { key, bytes };
  }

  async get(key: string): Promise<Readable> {
    parseObjectKey(this.service, key);
    return this.call('get', () => this.client.getObject(this.bucket, key));
  }

  /** Size and media type, or null when there is no such object. */
  async stat(key: string): Promise<{ bytes: number; contentType?: string } | null> {
    parseObjectKey(this.service, key);
    try {
      const stat = await this.client.statObject(this.bucket, key);
      const contentType = stat.metaData['content-type'] as unknown;
      return typeof contentType === 'string' ? { bytes: stat.size, contentType } : { bytes: stat.size };
    } catch (error) {
      // A HEAD response has no body, so S3 says NotFound rather than NoSuchKey.
      const code = (error as { code?: unknown }).code;
      if (code === 'NotFound' || code === 'NoSuchKey') return null;
      throw toStorageError('stat', error);
    }
  }

  /**
   * Deletes in batches of at most `deleteBatchSize` keys, one request at a time. Returns how
   * many distinct keys the store confirmed as gone. S3 confirms a key that did not exist
   * as deleted too (DeleteObjects is idempotent), so this counts keys, not prior objects;
   * removeAllForOwner's count comes from a listing and so counts objects. Keys are all
   * checked before anything is deleted. Every batch is tried even if one fails, then the
   * failure is reported; deleting again is safe.
   */
  async remove(keys: string[]): Promise<number> {
    for (const key of keys) parseObjectKey(this.service, key);
    return this.removeChecked([...new Set(keys)], 'remove');
  }

  /** Erasure of everything stored for one owner; returns how many objects were deleted. */
  async removeAllForOwner(ownerId: string): Promise<number> {
    let removed = 0;
    for (let round = 0; round < ERASURE_ROUNDS; round++) {
      const keys = await this.listOwnerKeys(ownerId);
      if (keys.length === 0) return removed;
      removed += await this.removeChecked(keys, 'removeAllForOwner');
    }
    throw new StorageError('removeAllForOwner', 'ObjectsKeptAppearing');
  }

  /**
   * Every key under the owner's prefix. Listed with ListObjects v1: s3rver's v2 continuation
   * tokens use DES, which Node 17+ (OpenSSL 3) refuses, so its second v2 page fails.
   */
  async listOwnerKeys(ownerId: string): Promise<string[]> {
    const prefix = ownerPrefix(this.service, ownerId);
    try {
      const keys: string[] = [];
      for await (const item of this.client.listObjects(this.bucket, prefix, true)) {
        const name = (item as { name?: unknown }).name;
        // A server could only break this by ignoring the prefix; never act on such a key.
        if (typeof name === 'string' && name.startsWith(prefix)) keys.push(name);
      }
      return keys;
    } catch (error) {
      throw toStorageError('listOwnerKeys', error);
    }
  }

  async signedGetUrl(key: string, expiresInSeconds: number): Promise<string> {
    parseObjectKey(this.service, key);
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
      throw new RangeError(`expiresInSeconds must be an integer from 1 to ${MAX_SIGNED_URL_SECONDS}`);
    }
    return this.call('signedGetUrl', () => this.client.presignedGetObject(this.bucket, key, expiresInSeconds));
  }

  /** Readiness: the bucket answers within the timeout. Never throws. */
  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.pingTimeoutMs);
    });
    try {
      return await Promise.race([this.client.bucketExists(this.bucket).catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async removeChecked(keys: string[], operation: string): Promise<number> {
    let removed = 0;
    let failed: string | undefined;
    for (let start = 0; start < keys.length; start += this.deleteBatchSize) {
      const batch = keys.slice(start, start + this.deleteBatchSize);
      // The client splits at 1,000 itself but sends those requests all at once; batches
      // here are sequential and small enough that the client sends each as one request.
      const errors = await this.call(operation, () => this.client.removeObjects(this.bucket, batch));
      const failures = errors.filter((entry) => entry?.Error !== undefined);
      removed += batch.length - failures.length;
      failed ??= failures[0]?.Error?.Code;
    }
    if (failed !== undefined) throw toStorageError(operation, { code: failed });
    return removed;
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toStorageError(operation, error);
    }
  }
}

interface Head {
  chunks: Buffer[];
  done: boolean;
  iterator: AsyncIterator<unknown>;
}

/** Reads until the body ends or more than `limit` bytes have arrived. */
async function readHead(body: Readable, limit: number): Promise<Head> {
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const chunk = await nextChunk(iterator);
    if (chunk === undefined) return { chunks, done: true, iterator };
    chunks.push(chunk);
    bytes += chunk.length;
  }
  return { chunks, done: false, iterator };
}

async function nextChunk(iterator: AsyncIterator<unknown>): Promise<Buffer | undefined> {
  const next = await iterator.next();
  if (next.done === true) return undefined;
  const value: unknown = next.value;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string' || value instanceof Uint8Array) return Buffer.from(value);
  throw new TypeError('body must be a byte stream');
}

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'minio';
import { parseS3Url, type StorageConfig } from '@homiwork/storage';
import { assertObjectHash, OBJECTS_DIR, sha256File, type BackedUpObject } from './manifest.js';

/** S3's DeleteObjects refuses more keys than this in one request. */
const DELETE_BATCH = 1000;

/** The bucket the services use, from their own settings (S3_URL, S3_BUCKET, S3_ACCESS_KEY / S3_SECRET_KEY). */
export function bucketFromEnv(env: NodeJS.ProcessEnv): { client: Client; config: StorageConfig } {
  if (!env.S3_URL || !env.S3_BUCKET) throw new Error('config error: S3_URL and S3_BUCKET are required');
  const config = parseS3Url(env.S3_URL, env.S3_BUCKET, { accessKey: env.S3_ACCESS_KEY, secretKey: env.S3_SECRET_KEY });
  const { endPoint, port, useSSL, accessKey, secretKey, region } = config;
  return { client: new Client({ endPoint, port, useSSL, accessKey, secretKey, ...(region === undefined ? {} : { region }) }), config };
}

async function listKeys(client: Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of client.listObjects(bucket, '', true) as AsyncIterable<{ name?: string }>) if (item.name) keys.push(item.name);
  return keys;
}

/**
 * Copies every object of the bucket into `<dir>/objects/<sha256>` (same bytes stored
 * once) and answers the listing. Objects are written under a temporary name and renamed
 * once their hash is known.
 */
export async function copyBucket(client: Client, bucket: string, dir: string): Promise<BackedUpObject[]> {
  await mkdir(join(dir, OBJECTS_DIR), { recursive: true });
  const listing: BackedUpObject[] = [];
  for (const key of await listKeys(client, bucket)) {
    const stat = await client.statObject(bucket, key);
    const temporary = join(dir, OBJECTS_DIR, `incoming-${listing.length}`);
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(await client.getObject(bucket, key), hashing, createWriteStream(temporary, { mode: 0o600 }));
    const sha256 = hash.digest('hex');
    await rename(temporary, join(dir, OBJECTS_DIR, sha256));
    const declared: unknown = (stat.metaData as Record<string, unknown>)['content-type'];
    const contentType = typeof declared === 'string' ? declared : 'application/octet-stream';
    listing.push({ key, size: stat.size, sha256, contentType });
  }
  return listing;
}

/** `<service>/<ownerId>/…`: the owner of an object, by the storage library's key layout. */
const ownerOf = (key: string): string | undefined => key.split('/')[1];

/** media's objects are its uploads': one per row of media.uploads. */
const MEDIA_PREFIX = 'media/';

/**
 * Makes the bucket hold what the backup listed — except objects of `erasedUserIds`, and
 * media objects whose upload row the restored database no longer has (`uploadKeys`:
 * deleted by the user since the snapshot), which are not put back — and nothing else
 * (objects written after the backup belong to rows the restored database no longer has).
 * Every file is checked against its hash first.
 */
export async function restoreBucket(client: Client, bucket: string, dir: string, listing: readonly BackedUpObject[], erasedUserIds: ReadonlySet<string>, uploadKeys: ReadonlySet<string>): Promise<{ restored: number; skipped: number; removed: number }> {
  if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
  const wanted = listing.filter((object) => !erasedUserIds.has(ownerOf(object.key) ?? '') && (!object.key.startsWith(MEDIA_PREFIX) || uploadKeys.has(object.key)));
  for (const object of wanted) {
    assertObjectHash(object.sha256);
    const file = join(dir, OBJECTS_DIR, object.sha256);
    const { sha256, bytes } = await sha256File(file);
    if (sha256 !== object.sha256 || bytes !== object.size) throw new Error(`object file ${object.sha256} does not match the listing: the backup is damaged`);
    await client.putObject(bucket, object.key, createReadStream(file), object.size, { 'Content-Type': object.contentType });
  }
  const keep = new Set(wanted.map((object) => object.key));
  const extra = (await listKeys(client, bucket)).filter((key) => !keep.has(key));
  for (let start = 0; start < extra.length; start += DELETE_BATCH) await client.removeObjects(bucket, extra.slice(start, start + DELETE_BATCH));
  return { restored: wanted.length, skipped: listing.length - wanted.length, removed: extra.length };
}


import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, CopyConditions } from 'minio';
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

/** The folder, inside an owner's prefix, where a restore moves the objects the backup does not have. */
export const QUARANTINE_FOLDER = 'restore-quarantine';

/**
 * Where a restore of `backupId` moves an object the backup does not have: inside the same
 * owner's prefix (`<service>/<owner>/restore-quarantine/<backupId>/<name>`), so the owner's
 * erasure — which empties the whole prefix — removes it too; a key without that layout goes
 * under `restore-quarantine/<backupId>/`.
 */
export function quarantineKey(key: string, backupId: string): string {
  const [service, owner, ...name] = key.split('/');
  if (service && owner && name.length > 0) return `${service}/${owner}/${QUARANTINE_FOLDER}/${backupId}/${name.join('/')}`;
  return `${QUARANTINE_FOLDER}/${backupId}/${key}`;
}

/** Whether an object is already in a restore's quarantine: a later restore leaves it there. */
const quarantined = (key: string): boolean => key.startsWith(`${QUARANTINE_FOLDER}/`) || key.split('/')[2] === QUARANTINE_FOLDER;

/**
 * The live objects a restore would take away from users under an active legal hold: every
 * object of theirs the backup does not list (written after it). Read before anything is
 * changed, so the restore can refuse first.
 */
export async function heldObjectsMissingFromBackup(client: Client, bucket: string, listing: readonly BackedUpObject[], heldUserIds: ReadonlySet<string>): Promise<number> {
  if (heldUserIds.size === 0 || !(await client.bucketExists(bucket))) return 0;
  const listed = new Set(listing.map((object) => object.key));
  return (await listKeys(client, bucket)).filter((key) => !listed.has(key) && !quarantined(key) && heldUserIds.has(ownerOf(key) ?? '')).length;
}

/**
 * Makes the bucket hold what the backup listed — except objects of `erasedUserIds`, and
 * media objects whose upload row the restored database no longer has (`uploadKeys`:
 * deleted by the user since the snapshot), which are not put back. Objects the backup does
 * not have (written after it) are deleted when their owner is erased, refused when their
 * owner is under an active legal hold (`heldUserIds`; checked before anything changes, see
 * heldObjectsMissingFromBackup), and otherwise moved into the quarantine (quarantineKey)
 * for an operator to review. Every file is checked against its hash first.
 */
export async function restoreBucket(
  client: Client,
  bucket: string,
  dir: string,
  backupId: string,
  listing: readonly BackedUpObject[],
  owners: { erasedUserIds: ReadonlySet<string>; heldUserIds: ReadonlySet<string> },
  uploadKeys: ReadonlySet<string>,
): Promise<{ restored: number; skipped: number; removed: number; quarantined: number }> {
  const { erasedUserIds, heldUserIds } = owners;
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
  const listed = new Set(listing.map((object) => object.key));
  const remove: string[] = [];
  const move: string[] = [];
  for (const key of await listKeys(client, bucket)) {
    const owner = ownerOf(key) ?? '';
    if (keep.has(key) || (quarantined(key) && !erasedUserIds.has(owner))) continue;
    // Listed but left out (an erased user's, a deleted upload's), or an erased user's: gone for good.
    if (listed.has(key) || erasedUserIds.has(owner)) remove.push(key);
    else if (heldUserIds.has(owner)) throw new Error('an object of a user under an active legal hold is not in the backup: refusing to move it (release the hold, or restore a newer backup)');
    else move.push(key);
  }
  for (const key of move) {
    await client.copyObject(bucket, quarantineKey(key, backupId), `/${bucket}/${key}`, new CopyConditions());
    remove.push(key);
  }
  for (let start = 0; start < remove.length; start += DELETE_BATCH) await client.removeObjects(bucket, remove.slice(start, start + DELETE_BATCH));
  return { restored: wanted.length, skipped: listing.length - wanted.length, removed: remove.length - move.length, quarantined: move.length };
}

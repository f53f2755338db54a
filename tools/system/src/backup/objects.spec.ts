import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { bucketFromEnv, copyBucket, heldObjectsMissingFromBackup, quarantineKey, restoreBucket } from './objects.js';

// Review 2, finding 5: a restore takes nothing newer out of the bucket for good but what
// belongs to erased users; it refuses to move a held user's objects, and quarantines the
// rest inside each owner's prefix (so the owner's erasure still empties it). Against the
// local S3 server the services use under `npm start`.

const BACKUP_ID = '2026-12-04T10-00-00-000Z';
let s3: LocalS3;
let client: Client;
let bucket: string;
let dir: string;

const put = (key: string, text = key): Promise<unknown> => client.putObject(bucket, key, Readable.from([Buffer.from(text)]));
async function keys(): Promise<string[]> {
  const found: string[] = [];
  for await (const item of client.listObjects(bucket, '', true) as AsyncIterable<{ name?: string }>) if (item.name) found.push(item.name);
  return found.sort();
}

beforeAll(async () => {
  s3 = await startLocalS3();
  ({ client, config: { bucket } } = bucketFromEnv({ S3_URL: s3.url, S3_BUCKET: s3.config.bucket }));
  dir = await mkdtemp(join(tmpdir(), 'homiwork-objects-spec-'));
}, 60_000);
afterAll(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('quarantineKey', () => {
  it("keeps an object in its owner's prefix", () => {
    expect(quarantineKey('generation/u1/contents/c1.png', BACKUP_ID)).toBe(`generation/u1/restore-quarantine/${BACKUP_ID}/contents/c1.png`);
    expect(quarantineKey('loose', BACKUP_ID)).toBe(`restore-quarantine/${BACKUP_ID}/loose`);
  });
});

describe('restoreBucket', () => {
  const kept = randomUUID();
  const erased = randomUUID();
  const held = randomUUID();

  it('puts the backup back, deletes newer objects of erased users, quarantines the other newer ones, refuses those of held users', async () => {
    await put(`generation/${kept}/old.png`, 'old bytes');
    await put(`generation/${erased}/old.png`);
    await put(`generation/${held}/old.png`);
    const listing = await copyBucket(client, bucket, dir);

    await put(`generation/${kept}/old.png`, 'changed since');
    await put(`generation/${kept}/new.png`);
    await put(`retention/${kept}/export.zip`);
    await put(`generation/${erased}/new.png`);
    await put(`generation/${held}/new.png`);
    const owners = { erasedUserIds: new Set([erased]), heldUserIds: new Set([held]) };

    // Checked before anything is changed: the restore refuses then.
    expect(await heldObjectsMissingFromBackup(client, bucket, listing, owners.heldUserIds)).toBe(1);
    await expect(restoreBucket(client, bucket, dir, BACKUP_ID, listing, owners, new Set())).rejects.toThrow(/active legal hold/);

    await client.removeObjects(bucket, [`generation/${held}/new.png`]);
    expect(await heldObjectsMissingFromBackup(client, bucket, listing, owners.heldUserIds)).toBe(0);
    const result = await restoreBucket(client, bucket, dir, BACKUP_ID, listing, owners, new Set());
    expect(result).toEqual({ restored: 2, skipped: 1, removed: 2, quarantined: 2 });
    expect(await keys()).toEqual(
      [
        `generation/${held}/old.png`,
        `generation/${kept}/old.png`,
        `generation/${kept}/restore-quarantine/${BACKUP_ID}/new.png`,
        `retention/${kept}/restore-quarantine/${BACKUP_ID}/export.zip`,
      ].sort(),
    );
    const restored = await client.getObject(bucket, `generation/${kept}/old.png`);
    expect(Buffer.concat(await restored.toArray()).toString()).toBe('old bytes');

    // A later restore leaves the quarantine as it is — but not an erased owner's.
    await put(`generation/${erased}/restore-quarantine/${BACKUP_ID}/x.png`);
    expect(await restoreBucket(client, bucket, dir, BACKUP_ID, listing, owners, new Set())).toEqual({ restored: 2, skipped: 1, removed: 1, quarantined: 0 });
    expect(await keys()).not.toContain(`generation/${erased}/restore-quarantine/${BACKUP_ID}/x.png`);
    expect(await keys()).toContain(`generation/${kept}/restore-quarantine/${BACKUP_ID}/new.png`);
  }, 60_000);
});

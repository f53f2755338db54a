import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalS3 } from './local-s3.js';
import { ObjectStore } from './object-store.js';

const owner = '0b6c5d1e-8f2a-4c3b-9d4e-5f6a7b8c9d0e';

describe('startLocalS3', () => {
  it('serves the bucket on 127.0.0.1 and removes its temporary directory on stop', async () => {
    const s3 = await startLocalS3({ bucket: 'local-test' });
    expect(s3.url).toMatch(/^http:\/\/S3RVER:S3RVER@127\.0\.0\.1:\d+$/);
    expect(s3.config).toMatchObject({ endPoint: '127.0.0.1', bucket: 'local-test', accessKey: 'S3RVER', region: 'us-east-1' });
    const store = new ObjectStore(s3.config, { service: 'media' });
    expect(await store.ping()).toBe(true);
    await store.put(owner, 'a', Buffer.from('x'), { contentType: 'text/plain' });
    expect(existsSync(s3.directory)).toBe(true);

    await s3.stop();
    await s3.stop();
    expect(existsSync(s3.directory)).toBe(false);
    expect(await store.ping()).toBe(false);
  });

  it('keeps a directory it was given, so objects survive a restart', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'storage-spec-'));
    try {
      const first = await startLocalS3({ directory });
      const { key } = await new ObjectStore(first.config, { service: 'media' }).put(owner, 'kept', Buffer.from('kept'), { contentType: 'text/plain' });
      await first.stop();
      expect(existsSync(directory)).toBe(true);

      const second = await startLocalS3({ directory });
      expect(await new ObjectStore(second.config, { service: 'media' }).stat(key)).toMatchObject({ bytes: 4 });
      await second.stop();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertKnownNames, assertNoSymlinks, assertObjectHash, readManifest, writeManifest, type BackupManifest } from './manifest.js';

const HASH = 'a'.repeat(64);
const SCHEMAS = ['identity', 'chat', 'retention'];

function aManifest(changes: Partial<BackupManifest> = {}): BackupManifest {
  return {
    formatVersion: 1,
    id: '2026-12-04T10-00-00-000Z',
    takenAt: '2026-12-04T10:00:00.000Z',
    finishedAt: '2026-12-04T10:01:00.000Z',
    durationMs: 60_000,
    expiresAt: '2026-12-31T10:00:00.000Z',
    schemas: [
      { schema: 'identity', file: 'schema-identity.dump', bytes: 1, sha256: HASH },
      { schema: 'chat', file: 'schema-chat.dump', bytes: 1, sha256: HASH },
    ],
    dataKeys: { tables: ['chat.user_data_keys'], expiresAt: '2026-12-05T10:00:00.000Z', prunedAt: null, dump: { file: 'data-keys.dump', bytes: 1, sha256: HASH } },
    objects: { bucket: 'b', count: 0, bytes: 0, listing: { file: 'objects.json', bytes: 2, sha256: HASH } },
    events: { stream: 'hw_events', maxAgeDays: 30, lastSequence: 1 },
    ...changes,
  };
}

describe('assertKnownNames', () => {
  it('accepts what a backup writes', () => {
    expect(() => assertKnownNames(aManifest(), SCHEMAS, 'user_data_keys')).not.toThrow();
  });

  it.each([
    ['a schema no service owns', { schemas: [{ schema: 'public', file: 'schema-public.dump', bytes: 1, sha256: HASH }] }],
    ['SQL in a schema name', { schemas: [{ schema: 'chat"; DROP DATABASE x; --', file: 'schema-chat.dump', bytes: 1, sha256: HASH }] }],
    ['a file outside the backup', { schemas: [{ schema: 'chat', file: '../../etc/passwd', bytes: 1, sha256: HASH }] }],
    ['a key table that is not user_data_keys', { dataKeys: { tables: ['identity.users'], expiresAt: '2026-12-05T10:00:00.000Z', prunedAt: null, dump: { file: 'data-keys.dump', bytes: 1, sha256: HASH } } }],
    ['a key table of a schema not in the backup', { dataKeys: { tables: ['retention.user_data_keys'], expiresAt: '2026-12-05T10:00:00.000Z', prunedAt: null, dump: { file: 'data-keys.dump', bytes: 1, sha256: HASH } } }],
    ['another listing file', { objects: { bucket: 'b', count: 0, bytes: 0, listing: { file: '/tmp/x.json', bytes: 2, sha256: HASH } } }],
  ] as Array<[string, Partial<BackupManifest>]>)('refuses %s', (_what, changes) => {
    expect(() => assertKnownNames(aManifest(changes), SCHEMAS, 'user_data_keys')).toThrow(/not a backup this tool wrote/);
  });

  it('refuses an object file name that is not a hash', () => {
    expect(() => assertObjectHash('../../../home/x')).toThrow(/not a backup this tool wrote/);
    expect(() => assertObjectHash(HASH)).not.toThrow();
  });
});

describe('the manifest signature (BACKUP_SIGNING_KEY)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'homiwork-manifest-spec-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const strict = { allowUnsigned: false };

  it('reads back a manifest signed with the key, and refuses it altered, unsigned or under another key', async () => {
    await writeManifest(dir, aManifest(), 'the signing key');
    expect((await readManifest(dir, 'the signing key', strict)).id).toBe(aManifest().id);
    await expect(readManifest(dir, 'another key', strict)).rejects.toThrow(/not signed with BACKUP_SIGNING_KEY/);
    // A wrong signature is refused even when unsigned backups are allowed.
    await expect(readManifest(dir, 'another key', { allowUnsigned: true })).rejects.toThrow(/not signed with BACKUP_SIGNING_KEY/);

    const signed = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...signed, schemas: [...signed.schemas, { schema: 'retention', file: 'schema-retention.dump', bytes: 1, sha256: HASH }] }));
    await expect(readManifest(dir, 'the signing key', strict)).rejects.toThrow(/not signed/);

    await writeManifest(dir, aManifest());
    await expect(readManifest(dir, 'the signing key', strict)).rejects.toThrow(/not signed/);
  });

  it('refuses a manifest nothing can check — no key — unless unsigned backups are allowed (--allow-unsigned)', async () => {
    await writeManifest(dir, aManifest(), 'the signing key');
    await expect(readManifest(dir, undefined, strict)).rejects.toThrow(/BACKUP_SIGNING_KEY is not set.*--allow-unsigned/);
    await writeManifest(dir, aManifest());
    await expect(readManifest(dir, undefined, strict)).rejects.toThrow(/--allow-unsigned/);
    expect((await readManifest(dir, undefined, { allowUnsigned: true })).id).toBe(aManifest().id);
  });
});

describe('assertNoSymlinks', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'homiwork-symlink-spec-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('accepts plain files and directories, and refuses a link anywhere below, or the directory itself a link', async () => {
    await mkdir(join(dir, 'backup', 'objects'), { recursive: true });
    await writeFile(join(dir, 'backup', 'manifest.json'), '{}');
    await writeFile(join(dir, 'backup', 'objects', HASH), 'x');
    await expect(assertNoSymlinks(join(dir, 'backup'))).resolves.toBeUndefined();

    await symlink(join(dir, 'backup'), join(dir, 'linked'));
    await expect(assertNoSymlinks(join(dir, 'linked'))).rejects.toThrow(/is a symbolic link/);
    await symlink('/etc/passwd', join(dir, 'backup', 'objects', 'b'.repeat(64)));
    await expect(assertNoSymlinks(join(dir, 'backup'))).rejects.toThrow(/objects\/b+ is a symbolic link/);
  });
});

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest, type BackupManifest } from './manifest.js';
import { LOCK_FILE, PARTIAL_GRACE_HOURS, pruneBackups } from './prune.js';

const HOUR_MS = 3_600_000;
const NOW = new Date();
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'homiwork-prune-spec-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function partial(name: string, options: { ageHours: number; lockPid?: number }): Promise<void> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(join(dir, 'schema-chat.dump'), 'x');
  if (options.lockPid !== undefined) await writeFile(join(dir, LOCK_FILE), `${options.lockPid}\n`);
  const at = new Date(NOW.getTime() - options.ageHours * HOUR_MS);
  await utimes(dir, at, at);
}

async function backup(name: string, expiresAt: Date): Promise<void> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeManifest(dir, { formatVersion: 1, id: name, takenAt: NOW.toISOString(), finishedAt: NOW.toISOString(), durationMs: 1, expiresAt: expiresAt.toISOString(), schemas: [], dataKeys: { tables: [], expiresAt: NOW.toISOString(), prunedAt: NOW.toISOString(), dump: null }, objects: { bucket: 'b', count: 0, bytes: 0, listing: { file: 'objects.json', bytes: 0, sha256: 'a'.repeat(64) } }, events: { stream: 's', maxAgeDays: 30, lastSequence: 0 } } satisfies BackupManifest);
}

/** A pid no process has: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

describe('pruneBackups', () => {
  it('leaves a young .partial and one whose backup still runs; removes an old, abandoned one', async () => {
    await partial('young.partial', { ageHours: 1 });
    await partial('running.partial', { ageHours: PARTIAL_GRACE_HOURS + 10, lockPid: process.pid });
    await partial('abandoned.partial', { ageHours: PARTIAL_GRACE_HOURS + 1, lockPid: await deadPid() });
    const pruned = await pruneBackups(root, NOW);
    expect(pruned.partial).toBe(1);
    expect((await readdir(root)).sort()).toEqual(['running.partial', 'young.partial']);
  });

  it('prunes every other backup when one manifest cannot be read, and reports it', async () => {
    await backup('a-expired', new Date(NOW.getTime() - 1_000));
    await mkdir(join(root, 'b-damaged'));
    await writeFile(join(root, 'b-damaged', 'manifest.json'), '{ not json');
    await backup('c-expired', new Date(NOW.getTime() - 1_000));
    await backup('d-kept', new Date(NOW.getTime() + HOUR_MS));
    const pruned = await pruneBackups(root, NOW);
    expect(pruned).toMatchObject({ backups: 2, unreadable: 1 });
    expect((await readdir(root)).sort()).toEqual(['b-damaged', 'd-kept']);
  });

  it('with a signing key, leaves a backup whose manifest is not signed with it', async () => {
    await backup('unsigned-expired', new Date(NOW.getTime() - 1_000));
    expect(await pruneBackups(root, NOW, 'the key')).toMatchObject({ backups: 0, unreadable: 1 });
  });
});

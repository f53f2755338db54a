import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATA_KEYS_FILE, writeManifest, type BackupManifest } from './manifest.js';
import { ERASURE_DEADLINE_HOURS } from '@homiwork/contracts';
import { holdLock, LOCK_FILE, LOCK_STALE_MS, PARTIAL_GRACE_HOURS, processStartTime, pruneBackups } from './prune.js';

const HOUR_MS = 3_600_000;
const NOW = new Date();
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'homiwork-prune-spec-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

interface LockOf {
  pid: number;
  startTime?: string;
  host?: string;
  /** How long ago the lock was last touched (the heartbeat). */
  heartbeatMinutes?: number;
  /** The lock as the previous version wrote it: the pid alone. */
  pidOnly?: boolean;
}

async function partial(name: string, options: { ageHours: number; lock?: LockOf; keyDumpAgeHours?: number }): Promise<void> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(join(dir, 'schema-chat.dump'), 'x');
  const { lock } = options;
  if (lock) {
    const startTime = lock.startTime ?? (await processStartTime(lock.pid)) ?? 'none';
    await writeFile(join(dir, LOCK_FILE), lock.pidOnly ? `${lock.pid}\n` : JSON.stringify({ host: lock.host ?? hostname(), pid: lock.pid, startTime }));
    const touched = new Date(NOW.getTime() - (lock.heartbeatMinutes ?? 0) * 60_000);
    await utimes(join(dir, LOCK_FILE), touched, touched);
  }
  if (options.keyDumpAgeHours !== undefined) await keyDump(dir, options.keyDumpAgeHours);
  const at = new Date(NOW.getTime() - options.ageHours * HOUR_MS);
  await utimes(dir, at, at);
}

async function keyDump(dir: string, ageHours: number): Promise<void> {
  await writeFile(join(dir, DATA_KEYS_FILE), 'keys');
  const at = new Date(NOW.getTime() - ageHours * HOUR_MS);
  await utimes(join(dir, DATA_KEYS_FILE), at, at);
}

const present = (path: string): Promise<boolean> => stat(path).then(
  () => true,
  () => false,
);

function aManifest(name: string, expiresAt: Date, changes: Partial<BackupManifest> = {}): BackupManifest {
  return { formatVersion: 1, id: name, takenAt: NOW.toISOString(), finishedAt: NOW.toISOString(), durationMs: 1, expiresAt: expiresAt.toISOString(), schemas: [], dataKeys: { tables: [], expiresAt: NOW.toISOString(), prunedAt: NOW.toISOString(), dump: null }, objects: { bucket: 'b', count: 0, bytes: 0, listing: { file: 'objects.json', bytes: 0, sha256: 'a'.repeat(64) } }, events: { stream: 's', maxAgeDays: 30, lastSequence: 0 }, ...changes };
}

async function backup(name: string, expiresAt: Date, changes: Partial<BackupManifest> = {}): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeManifest(dir, aManifest(name, expiresAt, changes));
  return dir;
}

/** A pid no process has: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

describe('pruneBackups', () => {
  it('leaves a young .partial and one whose backup still runs (reported past the grace period); removes an old, abandoned one', async () => {
    await partial('young.partial', { ageHours: 1 });
    await partial('running.partial', { ageHours: PARTIAL_GRACE_HOURS + 10, lock: { pid: process.pid } });
    await partial('abandoned.partial', { ageHours: PARTIAL_GRACE_HOURS + 1, lock: { pid: await deadPid() } });
    const pruned = await pruneBackups(root, NOW);
    expect(pruned).toMatchObject({ partial: 1, overdue: 1 });
    expect((await readdir(root)).sort()).toEqual(['running.partial', 'young.partial']);
  });

  it('does not take a live pid for a running backup: the start time must match and the heartbeat be fresh', async () => {
    const old = PARTIAL_GRACE_HOURS + 1;
    await partial('recycled-pid.partial', { ageHours: old, lock: { pid: process.pid, startTime: '1' } });
    await partial('stale-heartbeat.partial', { ageHours: old, lock: { pid: process.pid, heartbeatMinutes: LOCK_STALE_MS / 60_000 + 1 } });
    await partial('pid-only.partial', { ageHours: old, lock: { pid: process.pid, pidOnly: true } });
    await partial('other-host-stale.partial', { ageHours: old, lock: { pid: 1, host: 'elsewhere', startTime: '1', heartbeatMinutes: 60 } });
    await partial('other-host-fresh.partial', { ageHours: old, lock: { pid: 1, host: 'elsewhere', startTime: '1' } });
    const pruned = await pruneBackups(root, NOW);
    expect(pruned).toMatchObject({ partial: 4, overdue: 1 });
    expect(await readdir(root)).toEqual(['other-host-fresh.partial']);
  });

  it('holdLock writes a lock a prune honours, touches it, and removes it on release', async () => {
    const dir = join(root, 'mine.partial');
    await mkdir(dir);
    const lock = await holdLock(dir);
    const at = new Date(NOW.getTime() - (PARTIAL_GRACE_HOURS + 1) * HOUR_MS);
    await utimes(dir, at, at);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toEqual({ host: hostname(), pid: process.pid, startTime: await processStartTime(process.pid) });
    expect(await pruneBackups(root, NOW)).toMatchObject({ partial: 0, overdue: 1 });
    await lock.release();
    expect(await present(join(dir, LOCK_FILE))).toBe(false);
    await utimes(dir, at, at); // removing the lock touched the directory
    expect(await pruneBackups(root, NOW)).toMatchObject({ partial: 1, overdue: 0 });
  });

  it('deletes every key dump written more than the erasure deadline ago, whatever its lock, manifest or recorded expiry says', async () => {
    const old = ERASURE_DEADLINE_HOURS + 1;
    // In a running backup's .partial, with a live lock.
    await partial('running.partial', { ageHours: 1, lock: { pid: process.pid }, keyDumpAgeHours: old });
    await partial('running-fresh.partial', { ageHours: 1, lock: { pid: process.pid }, keyDumpAgeHours: 1 });
    // A complete backup whose manifest cannot be read, one whose key expiry is not a date, one that says it holds no dump.
    await mkdir(join(root, 'damaged'));
    await writeFile(join(root, 'damaged', 'manifest.json'), '{ not json');
    await keyDump(join(root, 'damaged'), old);
    const later = new Date(NOW.getTime() + 30 * 24 * HOUR_MS);
    const withDump = (expiresAt: string): Partial<BackupManifest> => ({ dataKeys: { tables: [], expiresAt, prunedAt: null, dump: { file: DATA_KEYS_FILE, bytes: 4, sha256: 'b'.repeat(64) } } });
    await keyDump(await backup('garbage-expiry', later, withDump('not a date')), 1);
    await keyDump(await backup('far-expiry', later, withDump(later.toISOString())), old);
    await keyDump(await backup('fresh', later, withDump(later.toISOString())), 1);

    const pruned = await pruneBackups(root, NOW);
    expect(pruned).toMatchObject({ keyDumps: 4, unreadable: 1 });
    expect(await present(join(root, 'running.partial', DATA_KEYS_FILE))).toBe(false);
    expect(await present(join(root, 'running-fresh.partial', DATA_KEYS_FILE))).toBe(true);
    expect(await present(join(root, 'damaged', DATA_KEYS_FILE))).toBe(false);
    expect(await present(join(root, 'garbage-expiry', DATA_KEYS_FILE))).toBe(false);
    expect(await present(join(root, 'far-expiry', DATA_KEYS_FILE))).toBe(false);
    expect(await present(join(root, 'fresh', DATA_KEYS_FILE))).toBe(true);
    expect((JSON.parse(await readFile(join(root, 'far-expiry', 'manifest.json'), 'utf8')) as BackupManifest).dataKeys.prunedAt).toBe(NOW.toISOString());
  });

  it('runs the name checks before removing anything of a backup', async () => {
    await backup('expired-odd-names', new Date(NOW.getTime() - 1_000), { schemas: [{ schema: 'public', file: '../../elsewhere', bytes: 1, sha256: 'a'.repeat(64) }] });
    expect(await pruneBackups(root, NOW)).toMatchObject({ backups: 0, unreadable: 1 });
    expect(await readdir(root)).toEqual(['expired-odd-names']);
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

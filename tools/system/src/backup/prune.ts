import { lstat, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ERASURE_DEADLINE_HOURS } from '@homiwork/contracts';
import { assertKnownNames, DATA_KEYS_FILE, listBackups, MANIFEST_FILE, readManifest, writeManifest, type BackupManifest } from './manifest.js';
import { DATA_KEYS_TABLE, redactCredentials, SERVICE_SCHEMAS } from './postgres.js';

const HOUR_MS = 60 * 60 * 1000;
/** A `.partial` younger than this may be a backup still being written (on this or another machine): left alone. */
export const PARTIAL_GRACE_HOURS = 6;
/** Names the backup writing a `.partial` (host, pid, the process's start time); its time is the backup's heartbeat. */
export const LOCK_FILE = 'backup.lock';
/** How often a running backup touches its lock. */
export const LOCK_HEARTBEAT_MS = 60_000;
/** A lock not touched for this long belongs to no running backup, whatever its pid. */
export const LOCK_STALE_MS = 10 * 60_000;

interface BackupLock {
  host: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot): a recycled pid has another. */
  startTime: string;
}

/** The start time of a process from /proc/<pid>/stat, or null when there is no such process. */
export async function processStartTime(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (text === null) return null;
  // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null; // field 22; the list starts at field 3
}

/**
 * Writes the lock of a backup into its `.partial` and touches it every LOCK_HEARTBEAT_MS
 * until released: a prune leaves the directory alone only while the lock names this live
 * process and is fresh (see lockIsLive).
 */
export async function holdLock(dir: string): Promise<{ release: () => Promise<void> }> {
  const path = join(dir, LOCK_FILE);
  const lock: BackupLock = { host: hostname(), pid: process.pid, startTime: (await processStartTime(process.pid)) ?? '' };
  await writeFile(path, `${JSON.stringify(lock)}\n`, { mode: 0o600 });
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined); // renamed or removed meanwhile: nothing left to hold
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  return {
    release: async () => {
      clearInterval(heartbeat);
      await rm(path, { force: true });
    },
  };
}

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
};

/**
 * Whether a lock belongs to a backup still running: touched within LOCK_STALE_MS and, on
 * this host, naming a live process with the recorded start time. A lock of another host
 * can only be judged by its heartbeat (a stopped backup stops touching it).
 */
async function lockIsLive(dir: string, now: Date): Promise<boolean> {
  const path = join(dir, LOCK_FILE);
  const [text, info] = await Promise.all([readFile(path, 'utf8').catch(() => null), lstat(path).catch(() => null)]);
  if (text === null || !info?.isFile() || now.getTime() - info.mtime.getTime() >= LOCK_STALE_MS) return false;
  let lock: Partial<BackupLock>;
  try {
    lock = JSON.parse(text) as Partial<BackupLock>;
  } catch {
    return false;
  }
  if (typeof lock.host !== 'string' || !Number.isInteger(lock.pid) || (lock.pid ?? 0) <= 0 || typeof lock.startTime !== 'string' || lock.startTime === '') return false;
  if (lock.host !== hostname()) return true;
  return processAlive(lock.pid!) && (await processStartTime(lock.pid!)) === lock.startTime;
}

/** What a prune does with a `.partial`: keeps it (young, or its backup runs), reports it kept past the grace period, or removes it. */
async function partialFate(dir: string, now: Date): Promise<'keep' | 'overdue' | 'remove'> {
  const young = now.getTime() - (await stat(dir)).mtime.getTime() < PARTIAL_GRACE_HOURS * HOUR_MS;
  if (young) return 'keep';
  return (await lockIsLive(dir, now)) ? 'overdue' : 'remove';
}

/** Whether a directory holds a key dump written more than ERASURE_DEADLINE_HOURS ago. */
async function keyDumpOutlived(dir: string, now: Date): Promise<boolean> {
  const info = await lstat(join(dir, DATA_KEYS_FILE)).catch(() => null);
  return info !== null && now.getTime() - info.mtime.getTime() >= ERASURE_DEADLINE_HOURS * HOUR_MS;
}

const exists = (path: string): Promise<boolean> => lstat(path).then(
  () => true,
  () => false,
);

/** Not a time strictly after `now` — unparsable included: such a date keeps nothing. */
const due = (iso: unknown, now: Date): boolean => !(new Date(typeof iso === 'string' ? iso : Number.NaN) > now);

interface PruneCounts {
  keyDumps: number;
  backups: number;
  partial: number;
  /** `.partial` directories past PARTIAL_GRACE_HOURS kept because their backup still runs: reported, the prune fails. */
  overdue: number;
  /** Backups whose manifest could not be read or checked: left as they are (but for an old key dump), and the prune fails. */
  unreadable: number;
}

/**
 * Deletes what has expired: any data-key dump written more than ERASURE_DEADLINE_HOURS
 * ago — in complete and interrupted backups alike, whatever a manifest or a lock says
 * (deleting a key dump is always safe) — or past the expiry its manifest records, a whole
 * backup past its own, and interrupted backups. Every manifest passes the restore's name
 * checks before anything of its backup is removed. One backup that cannot be read does not
 * stop the others from being pruned.
 */
export async function pruneBackups(root: string, now: Date, signingKey?: string): Promise<PruneCounts> {
  const pruned: PruneCounts = { keyDumps: 0, backups: 0, partial: 0, overdue: 0, unreadable: 0 };
  const removeKeyDump = async (dir: string): Promise<void> => {
    await rm(join(dir, DATA_KEYS_FILE), { force: true });
    pruned.keyDumps++;
  };
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, name);
    if (!name.endsWith('.partial') || !(await lstat(dir)).isDirectory()) continue;
    if (await keyDumpOutlived(dir, now)) await removeKeyDump(dir);
    const fate = await partialFate(dir, now);
    if (fate === 'remove') {
      await rm(dir, { recursive: true, force: true });
      pruned.partial++;
    } else if (fate === 'overdue') {
      pruned.overdue++;
      process.stderr.write(`[backup] ${dir} is older than ${PARTIAL_GRACE_HOURS} h and its backup still runs: check that backup\n`);
    }
  }
  for (const dir of await listBackups(root)) {
    let manifest: BackupManifest | null = null;
    try {
      if (!(await lstat(dir)).isDirectory()) throw new Error('not a directory (a symbolic link?)');
      manifest = await readManifest(dir, signingKey, { allowUnsigned: !signingKey });
      assertKnownNames(manifest, SERVICE_SCHEMAS, DATA_KEYS_TABLE);
    } catch (error) {
      manifest = null;
      pruned.unreadable++;
      process.stderr.write(`[backup] cannot prune ${dir}: ${redactCredentials(error instanceof Error ? error.message : String(error))}\n`);
    }
    if (manifest && due(manifest.expiresAt, now)) {
      // The manifest goes last: a prune interrupted midway finds the backup again.
      for (const name of await readdir(dir)) if (name !== MANIFEST_FILE) await rm(join(dir, name), { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
      pruned.backups++;
      continue;
    }
    const keysDue = (manifest !== null && due(manifest.dataKeys.expiresAt, now)) || (await keyDumpOutlived(dir, now));
    if (!keysDue || !(await exists(join(dir, DATA_KEYS_FILE)))) continue;
    await removeKeyDump(dir);
    if (manifest?.dataKeys.dump) await writeManifest(dir, { ...manifest, dataKeys: { tables: manifest.dataKeys.tables, expiresAt: manifest.dataKeys.expiresAt, prunedAt: now.toISOString(), dump: null } }, signingKey);
  }
  return pruned;
}

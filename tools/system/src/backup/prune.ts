import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listBackups, MANIFEST_FILE, readManifest, writeManifest } from './manifest.js';
import { redactCredentials } from './postgres.js';

const HOUR_MS = 60 * 60 * 1000;
/** A `.partial` younger than this may be a backup still being written (on this or another machine): left alone. */
export const PARTIAL_GRACE_HOURS = 6;
/** Holds the pid of the backup writing a `.partial`: while that process lives, no prune removes the directory. */
export const LOCK_FILE = 'backup.lock';

/** Whether a `.partial` may still be written to: its backup's process lives, or it is too young to tell. */
async function maybeInProgress(dir: string, now: Date): Promise<boolean> {
  const pid = Number((await readFile(join(dir, LOCK_FILE), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EPERM') return true; // alive, another user's
    }
  }
  const { mtime } = await stat(dir);
  return now.getTime() - mtime.getTime() < PARTIAL_GRACE_HOURS * HOUR_MS;
}

interface PruneCounts {
  keyDumps: number;
  backups: number;
  partial: number;
  /** Backups whose manifest could not be read or checked: left as they are, and the prune fails. */
  unreadable: number;
}

/**
 * Deletes what has expired: a data-key dump past its expiry (the manifest records when),
 * a whole backup past its own, and interrupted backups. One backup that cannot be read
 * does not stop the others from being pruned.
 */
export async function pruneBackups(root: string, now: Date, signingKey?: string): Promise<PruneCounts> {
  const pruned: PruneCounts = { keyDumps: 0, backups: 0, partial: 0, unreadable: 0 };
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.endsWith('.partial')) continue;
    if (await maybeInProgress(join(root, name), now)) continue;
    await rm(join(root, name), { recursive: true, force: true });
    pruned.partial++;
  }
  for (const dir of await listBackups(root)) {
    try {
      const manifest = await readManifest(dir, signingKey);
      if (new Date(manifest.expiresAt) <= now) {
        // The manifest goes last: a prune interrupted midway finds the backup again.
        for (const name of await readdir(dir)) if (name !== MANIFEST_FILE) await rm(join(dir, name), { recursive: true, force: true });
        await rm(dir, { recursive: true, force: true });
        pruned.backups++;
      } else if (manifest.dataKeys.dump && new Date(manifest.dataKeys.expiresAt) <= now) {
        await rm(join(dir, manifest.dataKeys.dump.file), { force: true });
        await writeManifest(dir, { ...manifest, dataKeys: { tables: manifest.dataKeys.tables, expiresAt: manifest.dataKeys.expiresAt, prunedAt: now.toISOString(), dump: null } }, signingKey);
        pruned.keyDumps++;
      }
    } catch (error) {
      pruned.unreadable++;
      process.stderr.write(`[backup] cannot prune ${dir}: ${redactCredentials(error instanceof Error ? error.message : String(error))}\n`);
    }
  }
  return pruned;
}


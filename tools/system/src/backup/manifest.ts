import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A file of a backup, with what proves it unchanged. */
export interface BackupFile {
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * `manifest.json` of one backup (`<root>/<id>/`). Times are ISO strings. The per-user data
 * keys are a file of their own with their own, short expiry: once it is pruned, the sealed
 * text in the schema dumps is unreadable for everyone, which is what lets the rest be kept
 * longer than the erasure deadline.
 */
export interface BackupManifest {
  formatVersion: 1;
  id: string;
  /** The database snapshot's time: every erasure after it (less the erasure deadline) is re-applied by a restore. */
  takenAt: string;
  finishedAt: string;
  durationMs: number;
  /** When the whole backup is deleted: before the events stream forgets the erasures since `takenAt`. */
  expiresAt: string;
  schemas: Array<BackupFile & { schema: string }>;
  dataKeys: { tables: string[]; expiresAt: string } & ({ prunedAt: null; dump: BackupFile } | { prunedAt: string; dump: null });
  objects: { bucket: string; count: number; bytes: number; listing: BackupFile };
  events: { stream: string; maxAgeDays: number; lastSequence: number };
}

/** One object of the bucket as `objects.json` lists it; the bytes are in `objects/<sha256>`. */
export interface BackedUpObject {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
}

export const MANIFEST_FILE = 'manifest.json';
export const OBJECT_LISTING_FILE = 'objects.json';
export const OBJECTS_DIR = 'objects';
export const DATA_KEYS_FILE = 'data-keys.dump';

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export async function describeFile(dir: string, file: string): Promise<BackupFile> {
  return { file, ...(await sha256File(join(dir, file))) };
}

/** Refuses a file whose bytes are not the ones the manifest recorded. */
export async function assertIntact(dir: string, entry: BackupFile): Promise<void> {
  const { sha256, bytes } = await sha256File(join(dir, entry.file));
  if (sha256 !== entry.sha256 || bytes !== entry.bytes) throw new Error(`${entry.file} does not match its checksum in the manifest: the backup is damaged`);
}

/** Written beside and renamed over, so a crash never leaves half a manifest. */
export async function writeManifest(dir: string, manifest: BackupManifest): Promise<void> {
  const temporary = join(dir, `${MANIFEST_FILE}.tmp`);
  await writeFile(temporary, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, join(dir, MANIFEST_FILE));
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as BackupManifest;
  if (manifest.formatVersion !== 1) throw new Error(`${dir}: backup format ${String(manifest.formatVersion)} is not one this tool reads`);
  return manifest;
}

/** The complete backups under a root (directories with a manifest; a `.partial` one was interrupted), oldest first. */
export async function listBackups(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const found: string[] = [];
  for (const name of names.sort()) {
    if (name.endsWith('.partial')) continue;
    const present = await stat(join(root, name, MANIFEST_FILE)).then(
      () => true,
      () => false,
    );
    if (present) found.push(join(root, name));
  }
  return found;
}

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
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
  /** HMAC-SHA256 of the rest (hex), with BACKUP_SIGNING_KEY, when the backup ran with one. */
  signature?: string;
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

/** The manifest without its signature, as signed. */
const unsigned = (manifest: BackupManifest): BackupManifest => Object.fromEntries(Object.entries(manifest).filter(([key]) => key !== 'signature')) as unknown as BackupManifest;

const signatureOf = (manifest: BackupManifest, signingKey: string): string => createHmac('sha256', signingKey).update(JSON.stringify(unsigned(manifest))).digest('hex');

/** Written beside and renamed over, so a crash never leaves half a manifest; signed when there is a key. */
export async function writeManifest(dir: string, manifest: BackupManifest, signingKey?: string): Promise<void> {
  const written: BackupManifest = signingKey ? { ...unsigned(manifest), signature: signatureOf(manifest, signingKey) } : unsigned(manifest);
  const temporary = join(dir, `${MANIFEST_FILE}.tmp`);
  await writeFile(temporary, `${JSON.stringify(written, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, join(dir, MANIFEST_FILE));
}

/**
 * Checks the manifest's signature with the signing key. A manifest that cannot be checked —
 * no key, or no signature — is refused unless `allowUnsigned` (the restore's
 * `--allow-unsigned`); a signature that does not match is refused always.
 */
export async function readManifest(dir: string, signingKey: string | undefined, options: { allowUnsigned: boolean }): Promise<BackupManifest> {
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as BackupManifest;
  if (manifest.formatVersion !== 1) throw new Error(`${dir}: backup format ${String(manifest.formatVersion)} is not one this tool reads`);
  const signed = manifest.signature !== undefined;
  if (signingKey && signed) {
    const expected = Buffer.from(signatureOf(manifest, signingKey), 'hex');
    const given = Buffer.from(typeof manifest.signature === 'string' ? manifest.signature : '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error(`${dir}: the manifest is not signed with BACKUP_SIGNING_KEY: refusing a backup that may have been altered`);
  } else if (!options.allowUnsigned) {
    throw new Error(signingKey ? `${dir}: the manifest is not signed with BACKUP_SIGNING_KEY: refusing a backup that may have been altered` : `${dir}: BACKUP_SIGNING_KEY is not set, so nothing proves the backup unaltered: set it, or pass --allow-unsigned to accept that`);
  }
  return manifest;
}

/** HMAC-SHA256 (hex) of a text with the signing key: for files the tools write beside the manifest. */
export const hmacOf = (text: string, signingKey: string): string => createHmac('sha256', signingKey).update(text).digest('hex');

/** Whether `given` is the HMAC of `text` under the key, compared in constant time. */
export function hmacMatches(text: string, signingKey: string, given: unknown): boolean {
  const expected = Buffer.from(hmacOf(text, signingKey), 'hex');
  const actual = Buffer.from(typeof given === 'string' ? given : '', 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Refuses a backup directory that is, or holds anywhere, a symbolic link: a link could make
 * a checked file, an object file or a removal reach outside the backup.
 */
export async function assertNoSymlinks(dir: string): Promise<void> {
  if ((await lstat(dir)).isSymbolicLink()) throw new Error(`${dir} is a symbolic link: refusing it, name the backup's real directory`);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) throw new Error(`${path} is a symbolic link: not a backup this tool wrote`);
    if (entry.isDirectory()) await assertNoSymlinks(path);
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Refuses a manifest that names anything but what a backup writes: the known service
 * schemas (each in `schema-<schema>.dump`), data-key tables only `<schema>.user_data_keys`
 * of those schemas, the fixed file names. The names end up in SQL and in paths.
 */
export function assertKnownNames(manifest: BackupManifest, serviceSchemas: readonly string[], keyTable: string): void {
  const seen = new Set<string>();
  const refuse = (what: string): never => {
    throw new Error(`the manifest names ${what}: not a backup this tool wrote`);
  };
  for (const entry of manifest.schemas) {
    if (!serviceSchemas.includes(entry.schema) || seen.has(entry.schema)) refuse(`the schema ${JSON.stringify(entry.schema)}`);
    seen.add(entry.schema);
    if (entry.file !== `schema-${entry.schema}.dump`) refuse(`the file ${JSON.stringify(entry.file)}`);
  }
  for (const table of manifest.dataKeys.tables) if (!manifest.schemas.some((entry) => table === `${entry.schema}.${keyTable}`)) refuse(`the key table ${JSON.stringify(table)}`);
  if (manifest.dataKeys.dump && manifest.dataKeys.dump.file !== DATA_KEYS_FILE) refuse(`the key dump ${JSON.stringify(manifest.dataKeys.dump.file)}`);
  if (manifest.objects.listing.file !== OBJECT_LISTING_FILE) refuse(`the listing ${JSON.stringify(manifest.objects.listing.file)}`);
  for (const file of [...manifest.schemas, manifest.objects.listing, ...(manifest.dataKeys.dump ? [manifest.dataKeys.dump] : [])]) if (!SHA256_HEX.test(file.sha256)) refuse(`a checksum ${JSON.stringify(file.sha256)}`);
}

/** An object's stored file is named by its hash: anything else could point outside the backup. */
export function assertObjectHash(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new Error(`the listing names the object file ${JSON.stringify(sha256)}: not a backup this tool wrote`);
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

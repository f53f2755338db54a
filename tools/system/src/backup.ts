/**
 * The operator's backup (`npm run backup -- --out <root> [--prune-only]`), into a new
 * directory `<root>/<id>/`:
 *
 *   schema-<service>.dump   pg_dump (custom format) of each service schema, from one snapshot,
 *                           without the rows of any `user_data_keys` table
 *   data-keys.dump          those rows alone, from the same snapshot: short-lived (below)
 *   objects.json, objects/  every object of the bucket, stored by its SHA-256, and the listing
 *   manifest.json           times, schemas, object count and bytes, checksums, expiries
 *
 * Expiry, enforced by the prune step (after every backup, and alone with `--prune-only`,
 * which should run at least hourly): the data-key dump lives ERASURE_DEADLINE_HOURS — an
 * erased user's key must not outlive the erasure deadline anywhere, and without it the
 * sealed text in the schema dumps is unreadable — and the whole backup lives the events
 * stream's max age less that deadline, because a restore finds the erasures to re-apply in
 * the stream (docs: operations, "Backups and restore"). The prune runs before and after
 * every backup, even a failed one. A key dump written more than the deadline ago is deleted
 * wherever it is (interrupted backups too, whatever their manifest or lock says).
 * Interrupted backups (`*.partial`) are removed by a prune once older than
 * PARTIAL_GRACE_HOURS and not held by a running backup's lock (host, pid and the process's
 * start time, touched every minute); one kept past that is reported (exit 1).
 *
 * Reads DATABASE_URL, S3_URL, S3_BUCKET (S3_ACCESS_KEY / S3_SECRET_KEY), NATS_URL,
 * EVENT_NAMESPACE (default hw), NATS_USER / NATS_PASSWORD, and BACKUP_SIGNING_KEY (when
 * set, the manifest is signed with it; the restore refuses a manifest it cannot check with
 * it unless told `--allow-unsigned`).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ERASURE_DEADLINE_HOURS, EVENTS_STREAM, streamName } from '@homiwork/contracts';
import { connectToNats } from '@homiwork/messaging';
import { maxAgeDays } from './backup/erasures.js';
import { DATA_KEYS_FILE, describeFile, OBJECT_LISTING_FILE, writeManifest, type BackupManifest } from './backup/manifest.js';
import { holdLock, PARTIAL_GRACE_HOURS, pruneBackups } from './backup/prune.js';
import { bucketFromEnv, copyBucket } from './backup/objects.js';
import { dumpDataKeys, dumpSchema, inspectSchemas, redactCredentials, SERVICE_SCHEMAS, withSnapshot } from './backup/postgres.js';

const USAGE = 'usage: backup --out <directory> [--prune-only]';
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const say = (line: string): void => void process.stdout.write(`[backup] ${line}\n`);

async function takeBackup(root: string, env: NodeJS.ProcessEnv): Promise<string> {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error('config error: DATABASE_URL is required');
  const namespace = env.EVENT_NAMESPACE ?? 'hw';
  const started = performance.now();
  const { client: s3, config: bucket } = bucketFromEnv(env);
  const nats = await connectToNats(env.NATS_URL ?? 'nats://127.0.0.1:4222', 'backup', { user: env.NATS_USER, password: env.NATS_PASSWORD });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, application_name: 'backup' });
  try {
    const stream = streamName(namespace, EVENTS_STREAM);
    const info = await nats.jsm.streams.info(stream);
    const streamDays = maxAgeDays(info.config.max_age);
    const keepMs = streamDays * DAY_MS - ERASURE_DEADLINE_HOURS * HOUR_MS;
    if (!(keepMs > ERASURE_DEADLINE_HOURS * HOUR_MS)) throw new Error(`the events stream keeps ${streamDays} days: too short to find the erasures since a backup; give it a max age of several days`);
    const { schemas, keyTables } = await inspectSchemas(pool, SERVICE_SCHEMAS);
    if (schemas.length === 0) throw new Error('no service schema in the database: nothing to back up');

    await mkdir(root, { recursive: true, mode: 0o700 });
    const partial = join(root, `${new Date().toISOString().replace(/[:.]/g, '-')}.partial`);
    await mkdir(partial, { mode: 0o700 });
    const lock = await holdLock(partial);
    const takenAt = await withSnapshot(databaseUrl, async (snapshot, snapshotAt) => {
      for (const schema of schemas) await dumpSchema(databaseUrl, snapshot, schema, join(partial, `schema-${schema}.dump`), keyTables);
      if (keyTables.length > 0) await dumpDataKeys(databaseUrl, snapshot, keyTables, join(partial, DATA_KEYS_FILE));
      return snapshotAt;
    });
    say(`${schemas.length} schemas dumped (${keyTables.length} data-key tables apart)`);
    const listing = await copyBucket(s3, bucket.bucket, partial);
    await writeFile(join(partial, OBJECT_LISTING_FILE), `${JSON.stringify(listing)}\n`, { mode: 0o600 });
    say(`${listing.length} objects copied`);

    const id = takenAt.toISOString().replace(/[:.]/g, '-');
    const finishedAt = new Date();
    const keysExpireAt = new Date(takenAt.getTime() + ERASURE_DEADLINE_HOURS * HOUR_MS).toISOString();
    const manifest: BackupManifest = {
      formatVersion: 1,
      id,
      takenAt: takenAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      expiresAt: new Date(takenAt.getTime() + keepMs).toISOString(),
      schemas: await Promise.all(schemas.map(async (schema) => ({ schema, ...(await describeFile(partial, `schema-${schema}.dump`)) }))),
      dataKeys: keyTables.length > 0 ? { tables: keyTables, expiresAt: keysExpireAt, prunedAt: null, dump: await describeFile(partial, DATA_KEYS_FILE) } : { tables: [], expiresAt: keysExpireAt, prunedAt: finishedAt.toISOString(), dump: null },
      objects: { bucket: bucket.bucket, count: listing.length, bytes: listing.reduce((sum, object) => sum + object.size, 0), listing: await describeFile(partial, OBJECT_LISTING_FILE) },
      events: { stream, maxAgeDays: streamDays, lastSequence: info.state.last_seq },
    };
    await writeManifest(partial, manifest, env.BACKUP_SIGNING_KEY);
    await lock.release();
    await rename(partial, join(root, id));
    say(`backup ${id} written in ${manifest.durationMs} ms; data keys expire ${manifest.dataKeys.expiresAt}, the backup ${manifest.expiresAt}`);
    return id;
  } finally {
    await pool.end();
    await nats.nc.close();
  }
}

async function prune(root: string, signingKey: string | undefined): Promise<boolean> {
  const pruned = await pruneBackups(root, new Date(), signingKey);
  say(`pruned ${pruned.keyDumps} expired data-key dump(s), ${pruned.backups} expired backup(s), ${pruned.partial} interrupted one(s)${pruned.unreadable > 0 ? `; ${pruned.unreadable} backup(s) could not be read: remove or repair them by hand` : ''}${pruned.overdue > 0 ? `; ${pruned.overdue} interrupted one(s) kept past ${PARTIAL_GRACE_HOURS} h because their backup still runs` : ''}`);
  return pruned.unreadable === 0 && pruned.overdue === 0;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' }, 'prune-only': { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help || !values.out) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const signingKey = process.env.BACKUP_SIGNING_KEY || undefined;
  if (values['prune-only']) return (await prune(values.out, signingKey)) ? 0 : 1;
  // Key dumps due for deletion go first, and a failed backup still ends with a prune.
  let clean = await prune(values.out, signingKey);
  try {
    await takeBackup(values.out, process.env);
  } finally {
    clean = (await prune(values.out, signingKey)) && clean;
  }
  return clean ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`backup: ${redactCredentials(error instanceof Error ? error.message : String(error))}\n`);
  return 1;
});

/**
 * The operator's restore (`npm run restore -- --from <backup or backup root> [--wait-minutes 30]
 * [--allow-unsigned]`), with the services stopped:
 *
 * 1. checks the backup: no symbolic link anywhere in it; the manifest's signature with
 *    BACKUP_SIGNING_KEY (a manifest nothing can check is refused without --allow-unsigned);
 *    only the known schema, table and file names; every file against its checksum; no
 *    schema dump with rows of a data-key table (`pg_restore --list`);
 * 2. reads, before anything is overwritten, what the backup predates, and refuses what it
 *    cannot carry over (an erasure still open or held, or asked for and not completed — in
 *    identity's accounts or as an ErasureRequested since the backup; a user's content
 *    deletion since the snapshot; a newer object of a user under a legal hold): the
 *    erasures to re-apply — every UserDeleted in the events stream since the oldest erasure
 *    open at the snapshot (or the snapshot), and every one stored after the sequence the
 *    backup recorded, cross-checked with identity's live tombstones — every erased account
 *    (all tombstones), retention's live erasure records, legal holds, privacy requests and
 *    restrictions, and media's live uploads; keeps them in `<backup>/reapply.json` (HMAC'd
 *    with the signing key) until confirmed. A rerun reuses that journal only when the
 *    database holds the marker its transaction wrote (below); otherwise nothing was changed
 *    with it, and it is discarded and the live state read again;
 * 3. in ONE transaction: replaces each service schema by its dump, empties the key tables
 *    and loads the data keys unless expired — never those of an erased user — puts the live
 *    records back and writes the journal's marker (backup_restore.applied_journals: backup
 *    id and the journal's SHA-256); raises (nothing applied) if a service connects meanwhile;
 * 4. makes the bucket what the backup listed, without any object of an erased user or of
 *    an upload deleted since; newer objects are deleted when their owner is erased, and
 *    otherwise moved to `<service>/<owner>/restore-quarantine/<backup id>/` for review;
 * 5. queues each erasure again through its producer's outbox (see queueReapplication), and
 *    each restriction on record through retention's, and waits — the services may be
 *    started now — until every service has confirmed each erasure with a new
 *    PurgeCompleted. Exit 0 only then.
 *
 * Reads the same settings as the backup, and ERASURE_SERVICES (default: the manifest's).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'minio';
import pg from 'pg';
import { connectToNats } from '@homiwork/messaging';
import { createServiceDataSource } from '@homiwork/persistence';
import { erasureServices } from '@homiwork/system-runner';
import {
  awaitPurges,
  carryOverSql,
  collectErasures,
  collectLivePrivacyState,
  journalMarkerSql,
  lastStreamSequence,
  queueReapplication,
  queueRestrictions,
  reapplySince,
  removeJournal,
  saveJournal,
  trustedJournal,
  type PendingErasure,
  type ReapplyJournal,
} from './backup/erasures.js';
import { assertIntact, assertKnownNames, assertNoSymlinks, listBackups, MANIFEST_FILE, readManifest, type BackedUpObject, type BackupManifest } from './backup/manifest.js';
import { bucketFromEnv, heldObjectsMissingFromBackup, QUARANTINE_FOLDER, restoreBucket } from './backup/objects.js';
import {
  assertNoKeyRows,
  assertRestrictGuard,
  DATA_KEYS_TABLE,
  dataKeysStep,
  noServiceConnectedSql,
  readDumpRows,
  redactCredentials,
  restoreInOneTransaction,
  schemaStep,
  SERVICE_SCHEMAS,
  truncateKeyTablesSql,
  type RestoreStep,
} from './backup/postgres.js';

const USAGE = 'usage: restore --from <backup directory, or a directory of backups (the newest is used)> [--wait-minutes <n>] [--allow-unsigned]';
const JOURNAL_FILE = 'reapply.json';
const say = (line: string): void => void process.stdout.write(`[restore] ${line}\n`);

async function backupDirectory(from: string): Promise<string> {
  const direct = await stat(join(from, MANIFEST_FILE)).then(
    () => true,
    () => false,
  );
  if (direct) return from;
  const newest = (await listBackups(from)).at(-1);
  if (!newest) throw new Error(`${from} holds no complete backup`);
  return newest;
}

/** A service still running would write into the schemas being replaced: wait a little for stopping ones, then refuse. */
async function refuseWhileServicesConnected(pool: pg.Pool, attempts = 20): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { rows } = await pool.query<{ name: string }>(
      'SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY($1::text[])',
      [SERVICE_SCHEMAS],
    );
    if (rows.length === 0) return;
    if (attempt >= attempts) throw new Error(`services are still connected to the database (${rows.map((row) => row.name).join(', ')}): stop them first`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface RestoreContext {
  dir: string;
  manifest: BackupManifest;
  journal: ReapplyJournal;
  databaseUrl: string;
  namespace: string;
  services: string[];
  pool: pg.Pool;
  nc: NatsConnection;
  s3: Client;
  bucket: string;
}

/** The oldest erasure open in the backup's own retention.erasures bounds the erasures to re-apply. */
async function snapshotErasures(dir: string, manifest: BackupManifest): Promise<Array<Record<string, string | null>>> {
  const retention = manifest.schemas.find((entry) => entry.schema === 'retention');
  return retention ? readDumpRows(join(dir, retention.file), 'retention', 'erasures') : [];
}

/** Users under an active legal hold, as the live database had them. */
function heldUsers(journal: ReapplyJournal): Set<string> {
  const holds = journal.live.legalHolds as Array<{ user_id?: unknown; released_at?: unknown }>;
  return new Set(holds.filter((hold) => hold.released_at === null && typeof hold.user_id === 'string').map((hold) => hold.user_id as string));
}

/** Steps 3 to 5: database, keys and live records in one transaction; bucket; then the erasures and restrictions queued again. */
async function restoreAndQueue(context: RestoreContext): Promise<{ afterSequence: number; pending: PendingErasure[] }> {
  const { dir, manifest, journal, databaseUrl } = context;
  const erased = new Set([...journal.erasedUserIds, ...journal.erasures.map((erasure) => erasure.userId)]);
  const noService = noServiceConnectedSql(SERVICE_SCHEMAS);
  const steps: RestoreStep[] = manifest.schemas.map(({ schema, file }) => schemaStep(schema, join(dir, file), noService));
  const keys = manifest.dataKeys.dump;
  const keysLive = keys !== null && new Date(manifest.dataKeys.expiresAt) > new Date();
  const schemas = manifest.schemas.map((entry) => entry.schema);
  if (keys && keysLive) {
    await assertIntact(dir, keys);
    steps.push({ ...dataKeysStep(join(dir, keys.file), manifest.dataKeys.tables, erased), before: truncateKeyTablesSql(schemas) });
  }
  // The marker commits with the rest: a rerun trusts reapply.json only when the database shows it (trustedJournal).
  await restoreInOneTransaction(databaseUrl, steps, [...(keysLive ? [] : [truncateKeyTablesSql(schemas)]), carryOverSql(journal, schemas), journalMarkerSql(journal), noService].join('\n'));
  say(`${manifest.schemas.length} schemas restored in one transaction, with the live erasure records, legal holds and privacy requests`);
  say(keysLive ? 'data keys restored, without those of erased users' : `data keys ${manifest.dataKeys.prunedAt ? 'were pruned' : 'have expired'}: text sealed with them stays unreadable for every user`);

  try {
    const listing = JSON.parse(await readFile(join(dir, manifest.objects.listing.file), 'utf8')) as BackedUpObject[];
    const uploadKeys = schemas.includes('media') ? new Set((await context.pool.query<{ key: string }>('SELECT object_key AS key FROM media.uploads')).rows.map((row) => row.key)) : new Set<string>();
    const objects = await restoreBucket(context.s3, context.bucket, dir, manifest.id, listing, { erasedUserIds: erased, heldUserIds: heldUsers(journal) }, uploadKeys);
    say(`${objects.restored} objects restored, ${objects.skipped} of erased users or deleted uploads left out, ${objects.removed} of erased users removed`);
    if (objects.quarantined > 0) say(`!!! ${objects.quarantined} newer object(s) the backup does not have were moved to <service>/<owner>/${QUARANTINE_FOLDER}/${manifest.id}/: review and empty them (operations: "Backups and restore")`);

    await refuseWhileServicesConnected(context.pool, 1);
    const afterSequence = await lastStreamSequence(context.nc, context.namespace);
    const dataSource = await createServiceDataSource({ databaseUrl, schema: 'retention', migrations: [], poolSize: 1, applicationName: 'restore' }).initialize();
    const pending = await (async () => {
      const queued = await queueReapplication(dataSource, context.namespace, journal.erasures, context.services);
      await queueRestrictions(dataSource, context.namespace, journal.live.restrictions);
      return queued;
    })().finally(() => dataSource.destroy());
    say(`${pending.length} erasure(s) and ${journal.live.restrictions.length} restriction(s) queued again`);
    return { afterSequence, pending };
  } catch (error) {
    say('!!! THE DATABASE IS RESTORED BUT THE BUCKET OR THE RE-APPLIED ERASURES ARE NOT: do not start the services; run the restore again with the same --from (it starts over from reapply.json)');
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { from: { type: 'string' }, 'wait-minutes': { type: 'string', default: '30' }, 'allow-unsigned': { type: 'boolean' }, help: { type: 'boolean' } } });
  const waitMinutes = Number(values['wait-minutes']);
  if (values.help || !values.from || !(waitMinutes > 0)) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const env = process.env;
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error('config error: DATABASE_URL is required');
  const namespace = env.EVENT_NAMESPACE ?? 'hw';
  const services = (env.ERASURE_SERVICES ?? erasureServices()).split(',').filter((service) => service !== '');
  const signingKey = env.BACKUP_SIGNING_KEY || undefined;

  const dir = await backupDirectory(values.from);
  await assertNoSymlinks(dir);
  const manifest = await readManifest(dir, signingKey, { allowUnsigned: values['allow-unsigned'] === true });
  if (!signingKey || manifest.signature === undefined) say('!!! --allow-unsigned: NOTHING PROVES THIS BACKUP UNALTERED (no BACKUP_SIGNING_KEY, or an unsigned manifest); restoring it anyway');
  assertKnownNames(manifest, SERVICE_SCHEMAS, DATA_KEYS_TABLE);
  const backupSequence = manifest.events.lastSequence;
  if (!Number.isSafeInteger(backupSequence) || backupSequence < 0) throw new Error('the manifest names no valid events sequence: not a backup this tool wrote');
  for (const file of [...manifest.schemas, manifest.objects.listing]) await assertIntact(dir, file);
  for (const { file } of manifest.schemas) await assertNoKeyRows(join(dir, file));
  await assertRestrictGuard();
  say(`backup ${manifest.id} (snapshot ${manifest.takenAt}): ${manifest.schemas.length} schemas, ${manifest.objects.count} objects, files intact`);

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'restore' });
  const nats = await connectToNats(env.NATS_URL ?? 'nats://127.0.0.1:4222', 'restore', { user: env.NATS_USER, password: env.NATS_PASSWORD });
  const { client: s3, config: bucket } = bucketFromEnv(env);
  try {
    const journalPath = join(dir, JOURNAL_FILE);
    let journal = await trustedJournal(journalPath, pool, manifest.id, signingKey, say);
    let queued = journal?.queued;
    if (!queued) {
      await refuseWhileServicesConnected(pool);
      if (journal) say(`!!! a previous restore of this backup did not finish: restoring again, with the ${journal.erasures.length} erasure(s) and the live records it read into ${JOURNAL_FILE}`);
      else {
        const takenAt = new Date(manifest.takenAt);
        const since = reapplySince(takenAt, await snapshotErasures(dir, manifest));
        const live = await collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt, afterSequence: backupSequence });
        journal = await collectErasures({ nc: nats.nc, namespace, pool, backupId: manifest.id, since, afterSequence: backupSequence, live });
        const listing = JSON.parse(await readFile(join(dir, manifest.objects.listing.file), 'utf8')) as BackedUpObject[];
        const held = await heldObjectsMissingFromBackup(s3, bucket.bucket, listing, heldUsers(journal));
        if (held > 0) throw new Error(`refusing to restore, nothing was changed: ${held} object(s) of users under an active legal hold were written after the backup and would be taken out of the bucket; release the hold, or restore a newer backup`);
        await saveJournal(journalPath, journal, signingKey);
        say(`${journal.erasures.length} erasure(s) since ${since.toISOString()} to re-apply; ${journal.live.legalHolds.length} legal hold(s), ${journal.live.privacyRequests.length} privacy request(s) carried over`);
      }
      queued = await restoreAndQueue({ dir, manifest, journal, databaseUrl, namespace, services, pool, nc: nats.nc, s3, bucket: bucket.bucket });
      await saveJournal(journalPath, { ...journal, queued }, signingKey);
    } else say(`the data was restored before: waiting for ${queued.pending.length} erasure(s) queued then`);
    const { pending, afterSequence } = queued;
    say(`start the services now if they are stopped — waiting up to ${waitMinutes} min for every service's PurgeCompleted`);
    let reported = -1;
    const missing = await awaitPurges({
      nc: nats.nc,
      namespace,
      pending,
      afterSequence,
      timeoutMs: waitMinutes * 60_000,
      onProgress: (confirmed) => {
        if (confirmed !== reported) say(`${confirmed} of ${pending.length} erasure(s) confirmed by every service`);
        reported = confirmed;
      },
    });
    if (missing.length > 0) {
      for (const erasure of missing) say(`erasure ${erasure.erasureId}: no PurgeCompleted yet from ${erasure.services.join(', ')}`);
      say(`not finished: run the restore again with the same --from once the services run (it only waits, from ${JOURNAL_FILE})`);
      return 1;
    }
    await removeJournal(journalPath);
    say('restore complete: every erasure since the backup is re-applied');
    return 0;
  } finally {
    await nats.nc.close();
    await pool.end();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`restore: ${redactCredentials(error instanceof Error ? error.message : String(error))}\n`);
  return 1;
});

/**
 * The operator's restore (`npm run restore -- --from <backup or backup root> [--wait-minutes 30]`),
 * with the services stopped:
 *
 * 1. checks the manifest (its signature when BACKUP_SIGNING_KEY is set; only the known
 *    schema, table and file names) and every file of the backup against its checksums;
 * 2. reads, before anything is overwritten, what the backup predates, and refuses what it
 *    cannot carry over (an erasure still open or held, a user's content deletion since the
 *    snapshot): the erasures to re-apply — every UserDeleted in the events stream since
 *    the oldest erasure open at the snapshot (or the snapshot), cross-checked with
 *    identity's live tombstones — every erased account (all tombstones), retention's live
 *    erasure records, legal holds, privacy requests and restrictions, and media's live
 *    uploads; keeps them in `<backup>/reapply.json` until confirmed (a rerun after a crash
 *    resumes from it);
 * 3. in ONE transaction: replaces each service schema by its dump, loads the data keys
 *    unless expired — never those of an erased user — and puts the live records back;
 *    raises (nothing applied) if a service connects meanwhile;
 * 4. makes the bucket what the backup listed, without any object of an erased user or of
 *    an upload deleted since;
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
  lastStreamSequence,
  loadJournal,
  queueReapplication,
  queueRestrictions,
  reapplySince,
  removeJournal,
  saveJournal,
  type PendingErasure,
  type ReapplyJournal,
} from './backup/erasures.js';
import { assertIntact, assertKnownNames, listBackups, MANIFEST_FILE, readManifest, type BackedUpObject, type BackupManifest } from './backup/manifest.js';
import { bucketFromEnv, restoreBucket } from './backup/objects.js';
import { assertRestrictGuard, DATA_KEYS_TABLE, dataKeysStep, noServiceConnectedSql, readDumpRows, redactCredentials, restoreInOneTransaction, schemaStep, SERVICE_SCHEMAS, type RestoreStep } from './backup/postgres.js';

const USAGE = 'usage: restore --from <backup directory, or a directory of backups (the newest is used)> [--wait-minutes <n>]';
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

/** Steps 3 to 5: database, keys and live records in one transaction; bucket; then the erasures and restrictions queued again. */
async function restoreAndQueue(context: RestoreContext): Promise<{ afterSequence: number; pending: PendingErasure[] }> {
  const { dir, manifest, journal, databaseUrl } = context;
  const erased = new Set([...journal.erasedUserIds, ...journal.erasures.map((erasure) => erasure.userId)]);
  const noService = noServiceConnectedSql(SERVICE_SCHEMAS);
  const steps: RestoreStep[] = manifest.schemas.map(({ schema, file }) => schemaStep(schema, join(dir, file), noService));
  const keys = manifest.dataKeys.dump;
  const keysLive = keys !== null && new Date(manifest.dataKeys.expiresAt) > new Date();
  if (keys && keysLive) {
    await assertIntact(dir, keys);
    steps.push(dataKeysStep(join(dir, keys.file), manifest.dataKeys.tables, erased));
  }
  const schemas = manifest.schemas.map((entry) => entry.schema);
  await restoreInOneTransaction(databaseUrl, steps, `${carryOverSql(journal, schemas)}\n${noService}`);
  say(`${manifest.schemas.length} schemas restored in one transaction, with the live erasure records, legal holds and privacy requests`);
  say(keysLive ? 'data keys restored, without those of erased users' : `data keys ${manifest.dataKeys.prunedAt ? 'were pruned' : 'have expired'}: text sealed with them stays unreadable for every user`);

  try {
    const listing = JSON.parse(await readFile(join(dir, manifest.objects.listing.file), 'utf8')) as BackedUpObject[];
    const uploadKeys = schemas.includes('media') ? new Set((await context.pool.query<{ key: string }>('SELECT object_key AS key FROM media.uploads')).rows.map((row) => row.key)) : new Set<string>();
    const objects = await restoreBucket(context.s3, context.bucket, dir, listing, erased, uploadKeys);
    say(`${objects.restored} objects restored, ${objects.skipped} of erased users or deleted uploads left out, ${objects.removed} newer removed`);

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
  const { values } = parseArgs({ args: argv, options: { from: { type: 'string' }, 'wait-minutes': { type: 'string', default: '30' }, help: { type: 'boolean' } } });
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

  const dir = await backupDirectory(values.from);
  const manifest = await readManifest(dir, env.BACKUP_SIGNING_KEY || undefined);
  assertKnownNames(manifest, SERVICE_SCHEMAS, DATA_KEYS_TABLE);
  for (const file of [...manifest.schemas, manifest.objects.listing]) await assertIntact(dir, file);
  await assertRestrictGuard();
  say(`backup ${manifest.id} (snapshot ${manifest.takenAt}): ${manifest.schemas.length} schemas, ${manifest.objects.count} objects, files intact`);

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'restore' });
  const nats = await connectToNats(env.NATS_URL ?? 'nats://127.0.0.1:4222', 'restore', { user: env.NATS_USER, password: env.NATS_PASSWORD });
  const { client: s3, config: bucket } = bucketFromEnv(env);
  try {
    const journalPath = join(dir, JOURNAL_FILE);
    let journal = await loadJournal(journalPath);
    if (journal && journal.backupId !== manifest.id) throw new Error(`${JOURNAL_FILE} belongs to another backup`);
    let queued = journal?.queued;
    if (!queued) {
      await refuseWhileServicesConnected(pool);
      if (journal) say(`!!! a previous restore of this backup did not finish: restoring again, with the ${journal.erasures.length} erasure(s) and the live records it read into ${JOURNAL_FILE}`);
      else {
        const takenAt = new Date(manifest.takenAt);
        const since = reapplySince(takenAt, await snapshotErasures(dir, manifest));
        const live = await collectLivePrivacyState({ nc: nats.nc, namespace, pool, takenAt });
        journal = await collectErasures({ nc: nats.nc, namespace, pool, backupId: manifest.id, since, live });
        await saveJournal(journalPath, journal);
        say(`${journal.erasures.length} erasure(s) since ${since.toISOString()} to re-apply; ${journal.live.legalHolds.length} legal hold(s), ${journal.live.privacyRequests.length} privacy request(s) carried over`);
      }
      queued = await restoreAndQueue({ dir, manifest, journal, databaseUrl, namespace, services, pool, nc: nats.nc, s3, bucket: bucket.bucket });
      await saveJournal(journalPath, { ...journal, queued });
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

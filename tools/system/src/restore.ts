/**
 * The operator's restore (`npm run restore -- --from <backup or backup root> [--wait-minutes 30]`),
 * with the services stopped:
 *
 * 1. checks every file of the backup against the manifest's checksums;
 * 2. reads, before anything is overwritten, the erasures to re-apply: every UserDeleted in
 *    the events stream since the backup's snapshot less the erasure deadline, cross-checked
 *    with identity's live tombstones, and retention's live record of those erasures; keeps
 *    them in `<backup>/reapply.json` until confirmed (a rerun after a crash resumes from it);
 * 3. replaces each service schema by its dump (one transaction each), loads the data keys
 *    unless expired — never those of an erased user — and puts retention's erasure records back;
 * 4. makes the bucket what the backup listed, without any object of an erased user;
 * 5. queues each erasure again through its producer's outbox (see queueReapplication) and
 *    waits — the services may be started now — until every service has confirmed each with
 *    a new PurgeCompleted. Exit 0 only then.
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
import { awaitPurges, collectErasures, lastStreamSequence, loadJournal, queueReapplication, removeJournal, restoreErasureRecords, saveJournal, type PendingErasure, type ReapplyJournal } from './backup/erasures.js';
import { assertIntact, listBackups, MANIFEST_FILE, readManifest, type BackedUpObject, type BackupManifest } from './backup/manifest.js';
import { bucketFromEnv, restoreBucket } from './backup/objects.js';
import { restoreDataKeys, restoreSchema, SERVICE_SCHEMAS } from './backup/postgres.js';

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
async function refuseWhileServicesConnected(pool: pg.Pool): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { rows } = await pool.query<{ name: string }>(
      'SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY($1::text[])',
      [SERVICE_SCHEMAS],
    );
    if (rows.length === 0) return;
    if (attempt === 20) throw new Error(`services are still connected to the database (${rows.map((row) => row.name).join(', ')}): stop them first`);
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

/** Steps 3 to 5: database, keys, retention's record, bucket; then the erasures queued again. */
async function restoreAndQueue(context: RestoreContext): Promise<{ afterSequence: number; pending: PendingErasure[] }> {
  const { dir, manifest, journal, databaseUrl } = context;
  const erased = new Set(journal.erasures.map((erasure) => erasure.userId));
  for (const { schema, file } of manifest.schemas) await restoreSchema(databaseUrl, schema, join(dir, file));
  say(`${manifest.schemas.length} schemas restored`);
  const keys = manifest.dataKeys.dump;
  if (keys && new Date(manifest.dataKeys.expiresAt) > new Date()) {
    await assertIntact(dir, keys);
    await restoreDataKeys(databaseUrl, join(dir, keys.file), manifest.dataKeys.tables, erased);
    say('data keys restored, without those of erased users');
  } else {
    say(`data keys ${manifest.dataKeys.prunedAt ? 'were pruned' : 'have expired'}: text sealed with them stays unreadable for every user`);
  }
  await restoreErasureRecords(context.pool, journal);

  const listing = JSON.parse(await readFile(join(dir, manifest.objects.listing.file), 'utf8')) as BackedUpObject[];
  const objects = await restoreBucket(context.s3, context.bucket, dir, listing, erased);
  say(`${objects.restored} objects restored, ${objects.skipped} of erased users left out, ${objects.removed} newer removed`);

  const afterSequence = await lastStreamSequence(context.nc, context.namespace);
  const dataSource = await createServiceDataSource({ databaseUrl, schema: 'retention', migrations: [], poolSize: 1, applicationName: 'restore' }).initialize();
  const pending = await queueReapplication(dataSource, context.namespace, journal.erasures, context.services).finally(() => dataSource.destroy());
  say(`${pending.length} erasure(s) queued again`);
  return { afterSequence, pending };
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
  const manifest = await readManifest(dir);
  for (const file of [...manifest.schemas, manifest.objects.listing]) await assertIntact(dir, file);
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
      if (journal) say(`resuming: ${journal.erasures.length} erasure(s) from ${JOURNAL_FILE}`);
      else {
        journal = await collectErasures({ nc: nats.nc, namespace, pool, backupId: manifest.id, takenAt: new Date(manifest.takenAt) });
        await saveJournal(journalPath, journal);
        say(`${journal.erasures.length} erasure(s) since the backup to re-apply`);
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
  process.stderr.write(`restore: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
});

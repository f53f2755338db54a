import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { SystemClock } from '@homiwork/clock';
import { ContentDeletedV1, ErasureApprovedV1, ErasureRequestedV1, EVENTS_STREAM, ProcessingRestrictionChangedV1, PurgeCompletedV1, streamName, UserDeletedV1, type EventPayload } from '@homiwork/contracts';
import { Outbox, readStoredEvents } from '@homiwork/messaging';
import { BACKUP_READER_CONSUMER } from '@homiwork/system-runner';
import { hmacMatches, hmacOf } from './manifest.js';

/** The backup operator user may read the events stream through this consumer name only. */
const READER = { consumerName: BACKUP_READER_CONSUMER } as const;

const HOUR_MS = 60 * 60 * 1000;
const NS_PER_MS = 1_000_000;

type ErasureReason = EventPayload<typeof UserDeletedV1>['reason'];

/** One erasure a restore must carry out again: who, under which erasure, and why (from its UserDeleted). */
export interface ErasureToReapply {
  userId: string;
  erasureId: string;
  reason: ErasureReason;
  deletedAt: string;
}

/**
 * Privacy state the live database holds and the backup may predate, carried over the
 * restore as it is (retention's rows, as `row_to_json` gave them): legal holds, §9 privacy
 * requests with their history — restrictions and objections in force among them.
 */
export interface LivePrivacyState {
  legalHolds: unknown[];
  privacyRequests: unknown[];
  requestHistory: unknown[];
  /** Every user with a restriction or objection on record, and whether one is in force: re-announced after the restore. */
  restrictions: Array<{ userId: string; restricted: boolean }>;
  /** media's live upload ids: an upload the user deleted (or that expired) since the snapshot stays deleted. */
  uploadIds: string[];
}

/**
 * What a restore learns before it overwrites anything, kept in `<backup>/reapply.json`
 * until the re-application is confirmed, so a restore interrupted after the overwrite can
 * be run again (the live database it read is gone by then). Opaque ids only.
 */
export interface ReapplyJournal {
  backupId: string;
  /** Random, per reading of the live state: two readings never share a digest (journalDigest). */
  nonce: string;
  erasures: ErasureToReapply[];
  /** Every account identity has a tombstone for, however long ago: no key or object of theirs is put back. */
  erasedUserIds: string[];
  /** retention's erasure rows and receipts of those erasures as the live database had them: the legal record the backup predates. */
  records: { erasures: unknown[]; receipts: unknown[] };
  live: LivePrivacyState;
  /** Set once the database and bucket are restored and the erasures queued again: a rerun only waits. */
  queued?: { afterSequence: number; pending: PendingErasure[] };
}

/**
 * Where the re-application window starts: at the oldest erasure still open (held or in
 * progress) in the snapshot's own `retention.erasures` — a purge dead-lettered for days
 * and replayed after the snapshot is re-applied too — and at the snapshot when none was.
 */
export function reapplySince(takenAt: Date, snapshotErasures: ReadonlyArray<Record<string, string | null>>): Date {
  let since = takenAt.getTime();
  for (const row of snapshotErasures) {
    if (row.status === 'completed' || !row.requested_at) continue;
    const requestedAt = new Date(row.requested_at).getTime();
    if (!Number.isFinite(requestedAt)) throw new Error('the backup\'s retention.erasures holds an unreadable requested_at');
    since = Math.min(since, requestedAt);
  }
  return new Date(since);
}

/**
 * Every erasure the restored database could still hold data of: each UserDeleted in the
 * events stream since `since` (see reapplySince), and — whatever the clocks said — each one
 * stored after `afterSequence`, the stream's last sequence the backup read before its
 * snapshot. The events stream is the source because it is not rolled back by a restore and
 * it carries the erasure id; the live database (read before it is overwritten) is the
 * cross-check — every tombstone identity wrote since then must be among them — the list of
 * every erased account (no time bound), and the source of retention's record.
 */
export async function collectErasures(options: { nc: NatsConnection; namespace: string; pool: pg.Pool; backupId: string; since: Date; afterSequence: number; live: LivePrivacyState }): Promise<ReapplyJournal> {
  const { since } = options;
  const stream = streamName(options.namespace, EVENTS_STREAM);
  const { state } = await (await jetstreamManager(options.nc)).streams.info(stream);
  // Aged-out messages would be erasures no one could find any more: refuse rather than restore them.
  if (state.first_seq > 1 && (new Date(state.first_ts) > since || state.first_seq > options.afterSequence + 1)) {
    throw new Error(`the events stream ${stream} begins at ${state.first_ts} (sequence ${state.first_seq}), after ${since.toISOString()} or after the backup's sequence ${options.afterSequence}: it no longer proves every erasure since this backup; restore a newer backup`);
  }
  const byErasure = new Map<string, ErasureToReapply>();
  const take = (event: EventPayload<typeof UserDeletedV1>): void => void byErasure.set(event.erasureId, { userId: event.userId, erasureId: event.erasureId, reason: event.reason, deletedAt: event.deletedAt });
  for (const event of await readStoredEvents(options.nc, options.namespace, UserDeletedV1, READER)) if (new Date(event.deletedAt) >= since) take(event);
  for (const event of await readStoredEvents(options.nc, options.namespace, UserDeletedV1, { ...READER, fromSequence: options.afterSequence + 1 })) take(event);
  const erasures = [...byErasure.values()];

  const known = new Set(erasures.map((erasure) => erasure.userId));
  const { rows: tombstones } = await options.pool.query<{ user_id: string; recent: boolean }>('SELECT user_id, erased_at >= $1 AS recent FROM identity.tombstones', [since]);
  const unknown = tombstones.filter((row) => row.recent && !known.has(row.user_id)).length;
  if (unknown > 0) throw new Error(`${unknown} account(s) erased since ${since.toISOString()} have no UserDeleted in the events stream: cannot re-apply them`);
  const erasedUserIds = [...new Set([...tombstones.map((row) => row.user_id), ...known])];
  const ids = erasures.map((erasure) => erasure.erasureId);
  const { rows: records } = await options.pool.query<{ row: unknown }>('SELECT row_to_json(e) AS row FROM retention.erasures e WHERE id = ANY($1::uuid[])', [ids]);
  const { rows: receipts } = await options.pool.query<{ row: unknown }>('SELECT row_to_json(r) AS row FROM retention.erasure_receipts r WHERE erasure_id = ANY($1::uuid[])', [ids]);
  return { backupId: options.backupId, nonce: randomUUID(), erasures, erasedUserIds, records: { erasures: records.map((r) => r.row), receipts: receipts.map((r) => r.row) }, live: options.live };
}

/**
 * Reads the privacy state a restore must not lose, and refuses what it cannot carry over:
 * an erasure still open or held (its progress lives in the services' schemas the restore
 * replaces — wait until it completes), and a user's deletion of content since the snapshot
 * (ContentDeleted: the content would come back out of the trash; restore a newer backup).
 * The restore's own re-applied purges and user upload deletions need no event: erased
 * users are covered by the tombstones, and a deleted upload's row is gone from the live
 * database (media's DeleteUpload announces nothing; carryOverSql deletes the rest).
 */
export async function collectLivePrivacyState(options: { nc: NatsConnection; namespace: string; pool: pg.Pool; takenAt: Date; afterSequence: number }): Promise<LivePrivacyState> {
  const refusals: string[] = [];
  const { rows: open } = await options.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM retention.erasures WHERE status <> 'completed'");
  if (open[0]!.n > 0) refusals.push(`${open[0]!.n} erasure(s) are still open or held (GET /v1/admin/erasures): restore once every erasure is completed`);
  // Asked for but not yet opened by retention: ErasureRequested still in identity's outbox, or not yet consumed.
  const { rows: requested } = await options.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM identity.users u WHERE u.erasure_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM retention.erasures e WHERE e.id = u.erasure_id AND e.status = 'completed')",
  );
  if (requested[0]!.n > 0) refusals.push(`${requested[0]!.n} account(s) have an erasure requested that is not completed: start the services and let the erasure complete (or wait for it), then restore`);
  const requestedSince = await readStoredEvents(options.nc, options.namespace, ErasureRequestedV1, { ...READER, fromSequence: options.afterSequence + 1 });
  const { rows: completed } = await options.pool.query<{ id: string }>("SELECT id FROM retention.erasures WHERE status = 'completed' AND id = ANY($1::uuid[])", [requestedSince.map((event) => event.erasureId)]);
  const completedIds = new Set(completed.map((row) => row.id));
  const unfinished = new Set(requestedSince.filter((event) => !completedIds.has(event.erasureId)).map((event) => event.erasureId)).size;
  if (unfinished > 0) refusals.push(`${unfinished} erasure(s) requested since the backup (ErasureRequested) are not completed: start the services and let the erasure complete (or wait for it), then restore`);
  const deletions = (await readStoredEvents(options.nc, options.namespace, ContentDeletedV1, READER)).filter((event) => new Date(event.deletedAt) >= options.takenAt).length;
  if (deletions > 0) refusals.push(`${deletions} content deletion(s) by users since the snapshot (ContentDeleted) would be undone by this backup: restore a newer one`);
  if (refusals.length > 0) throw new Error(`refusing to restore, nothing was changed: ${refusals.join('; ')}`);
  const rowsOf = async (sql: string): Promise<unknown[]> => (await options.pool.query<{ row: unknown }>(sql)).rows.map((r) => r.row);
  const { rows: restrictions } = await options.pool.query<{ user_id: string; restricted: boolean }>(
    "SELECT user_id, bool_or(status = 'in_force') AS restricted FROM retention.privacy_requests WHERE type = ANY($1::text[]) AND user_id IS NOT NULL GROUP BY user_id",
    [RESTRICTING_TYPES],
  );
  return {
    legalHolds: await rowsOf('SELECT row_to_json(h) AS row FROM retention.legal_holds h'),
    privacyRequests: await rowsOf('SELECT row_to_json(r) AS row FROM retention.privacy_requests r'),
    requestHistory: await rowsOf('SELECT row_to_json(h) AS row FROM retention.privacy_request_history h'),
    restrictions: restrictions.map((row) => ({ userId: row.user_id, restricted: row.restricted })),
    uploadIds: (await options.pool.query<{ id: string }>('SELECT id FROM media.uploads')).rows.map((row) => row.id),
  };
}

/** retention's request types that stop processing while in force (services/retention, RESTRICTING_TYPES). */
const RESTRICTING_TYPES = ['restriction', 'objection'];

/** The SHA-256 of a journal as read before the restore's transaction (without `queued`, added after it). */
export function journalDigest(journal: ReapplyJournal): string {
  return createHash('sha256').update(JSON.stringify({ ...journal, queued: undefined })).digest('hex');
}

/** The journal file: the journal, and its HMAC with BACKUP_SIGNING_KEY when there is one. */
interface JournalFile {
  journal: ReapplyJournal;
  signature?: string;
}

export async function saveJournal(path: string, journal: ReapplyJournal, signingKey?: string): Promise<void> {
  const text = JSON.stringify(journal);
  const file: JournalFile = signingKey ? { journal, signature: hmacOf(text, signingKey) } : { journal };
  await writeFile(path, JSON.stringify(file), { mode: 0o600 });
}

/** A text as an SQL string literal. */
const sqlText = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** Where the restore records, inside its transaction, which journal the database was restored with. */
const MARKER_TABLE = 'backup_restore.applied_journals';

/** SQL, run inside the restore's transaction: the marker that this journal's restore committed (see trustedJournal). */
export function journalMarkerSql(journal: ReapplyJournal): string {
  return [
    'CREATE SCHEMA IF NOT EXISTS backup_restore;',
    `CREATE TABLE IF NOT EXISTS ${MARKER_TABLE} (backup_id text NOT NULL, journal_sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (backup_id, journal_sha256));`,
    `INSERT INTO ${MARKER_TABLE} (backup_id, journal_sha256) VALUES (${sqlText(journal.backupId)}, '${journalDigest(journal)}') ON CONFLICT DO NOTHING;`,
  ].join('\n');
}

/**
 * The journal of a previous run of this backup's restore, if the database shows that run's
 * transaction committed with exactly it (journalMarkerSql); otherwise null — nothing was
 * restored with it (the transaction rolled back), or it was planted or altered — and the
 * live state must be read again. With a signing key, a journal without its HMAC is ignored too.
 */
export async function trustedJournal(path: string, pool: pg.Pool, backupId: string, signingKey: string | undefined, say: (line: string) => void): Promise<ReapplyJournal | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  const discard = async (why: string): Promise<null> => {
    say(`${why}: discarding ${path}, reading the live state again`);
    await rm(path, { force: true });
    return null;
  };
  let file: Partial<JournalFile>;
  try {
    file = JSON.parse(text) as Partial<JournalFile>;
  } catch {
    return discard('an unreadable journal');
  }
  const journal = file.journal;
  if (!journal || typeof journal !== 'object' || journal.backupId !== backupId || !journal.live || !journal.erasedUserIds || typeof journal.nonce !== 'string') {
    return discard("not a journal of this backup's restore");
  }
  if (signingKey && !hmacMatches(JSON.stringify(journal), signingKey, file.signature)) return discard('!!! a journal not signed with BACKUP_SIGNING_KEY');
  const { rows } = await pool.query<{ marker: string | null }>(`SELECT to_regclass('${MARKER_TABLE}')::text AS marker`);
  const marked = rows[0]!.marker !== null && ((await pool.query(`SELECT 1 FROM ${MARKER_TABLE} WHERE backup_id = $1 AND journal_sha256 = $2`, [backupId, journalDigest(journal)])).rowCount ?? 0) > 0;
  if (!marked) return discard('a journal the database has no marker of (its restore changed nothing: the transaction did not commit)');
  return journal;
}

export const removeJournal = (path: string): Promise<void> => rm(path, { force: true });

/** A JSON value as an SQL literal: dollar-quoted with a tag the text does not contain. */
function jsonLiteral(value: unknown): string {
  const text = JSON.stringify(value);
  let tag = 'json';
  while (text.includes(`$${tag}$`)) tag = `json_${randomBytes(6).toString('hex')}`;
  return `$${tag}$${text}$${tag}$::json`;
}

/**
 * SQL, run last in the restore's transaction, that carries the live record over the
 * backup's older one: retention's erasure rows and signed receipts of the re-applied
 * erasures (completed, user id dropped — the re-applied purges then confirm into a
 * completed erasure and change nothing there), and every legal hold and privacy request
 * with its history as the live database had them; and media's upload rows the live
 * database no longer had, deleted as media's DeleteUpload does (their objects are left
 * out of the bucket by the restore: see restoreBucket).
 */
export function carryOverSql(journal: ReapplyJournal, schemas: readonly string[]): string {
  const ids = journal.erasures.map((erasure) => erasure.erasureId);
  const { live } = journal;
  return [
    `DELETE FROM retention.erasures WHERE id IN (SELECT json_array_elements_text(${jsonLiteral(ids)})::uuid);`,
    `INSERT INTO retention.erasures SELECT * FROM json_populate_recordset(NULL::retention.erasures, ${jsonLiteral(journal.records.erasures)});`,
    `INSERT INTO retention.erasure_receipts SELECT * FROM json_populate_recordset(NULL::retention.erasure_receipts, ${jsonLiteral(journal.records.receipts)});`,
    'DELETE FROM retention.legal_holds;',
    `INSERT INTO retention.legal_holds SELECT * FROM json_populate_recordset(NULL::retention.legal_holds, ${jsonLiteral(live.legalHolds)});`,
    'DELETE FROM retention.privacy_requests;', // the history goes with it (ON DELETE CASCADE)
    `INSERT INTO retention.privacy_requests SELECT * FROM json_populate_recordset(NULL::retention.privacy_requests, ${jsonLiteral(live.privacyRequests)});`,
    `INSERT INTO retention.privacy_request_history SELECT * FROM json_populate_recordset(NULL::retention.privacy_request_history, ${jsonLiteral(live.requestHistory)});`,
    // The history's bigserial restarts from the backup's value: move it past the rows carried over.
    "SELECT setval(pg_get_serial_sequence('retention.privacy_request_history', 'seq'), greatest((SELECT max(seq) FROM retention.privacy_request_history), 1));",
    ...(schemas.includes('media') ? [`DELETE FROM media.uploads WHERE id NOT IN (SELECT json_array_elements_text(${jsonLiteral(live.uploadIds)})::uuid);`] : []),
  ].join('\n');
}

/** What the re-application waits for: a fresh PurgeCompleted from each of these services. */
export interface PendingErasure {
  erasureId: string;
  services: string[];
}

/**
 * Starts each erasure again through the services' own code, by the outbox of the event's
 * producer (the relay publishes when the services run; no NATS publishing right needed):
 * - the account is back in identity: it is marked with its erasure, as identity marks it
 *   when the erasure is asked for, and retention's ErasureApproved is queued — identity
 *   then erases it and announces UserDeleted, on which every service purges;
 * - the account is not (erased before the snapshot): identity's UserDeleted is queued
 *   again, with a fresh message id, so each service's inbox takes it as new; its tombstone
 *   makes the purge idempotent.
 * Answers which services must confirm each.
 */
export async function queueReapplication(dataSource: DataSource, namespace: string, erasures: readonly ErasureToReapply[], erasureServices: readonly string[]): Promise<PendingErasure[]> {
  const clock = new SystemClock();
  const identityOutbox = new Outbox('identity', namespace, clock);
  const retentionOutbox = new Outbox('retention', namespace, clock);
  const pending: PendingErasure[] = [];
  for (const erasure of erasures) {
    await dataSource.transaction(async (manager) => {
      const [, marked] = await manager.query<[unknown[], number]>(
        'UPDATE identity.users SET erasure_id = $2, erasure_reason = $3, erasure_requested_at = $4 WHERE id = $1',
        [erasure.userId, erasure.erasureId, erasure.reason, erasure.deletedAt],
      );
      if (marked > 0) {
        await retentionOutbox.append(manager, ErasureApprovedV1, { userId: erasure.userId, erasureId: erasure.erasureId, approvedAt: clock.now().toISOString() });
        pending.push({ erasureId: erasure.erasureId, services: [...erasureServices] });
      } else {
        await identityOutbox.append(manager, UserDeletedV1, { userId: erasure.userId, erasureId: erasure.erasureId, reason: erasure.reason, deletedAt: erasure.deletedAt });
        pending.push({ erasureId: erasure.erasureId, services: erasureServices.filter((service) => service !== 'identity') });
      }
    });
  }
  return pending;
}

/**
 * Announces again, through retention's outbox, each restriction on record as it stands
 * live: generation's and chat's mirrors were restored to the backup's older state. The
 * restore's own time is newer than any change the mirrors hold, so it wins there.
 */
export async function queueRestrictions(dataSource: DataSource, namespace: string, restrictions: LivePrivacyState['restrictions']): Promise<void> {
  if (restrictions.length === 0) return;
  const clock = new SystemClock();
  const changedAt = clock.now().toISOString();
  await dataSource.transaction((manager) =>
    new Outbox('retention', namespace, clock).appendAll(
      manager,
      ProcessingRestrictionChangedV1,
      restrictions.map(({ userId, restricted }) => ({ userId, restricted, changedAt })),
    ),
  );
}

/** The events stream's last sequence: receipts after it answer the re-application. */
export async function lastStreamSequence(nc: NatsConnection, namespace: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(streamName(namespace, EVENTS_STREAM))).state.last_seq;
}

/**
 * Waits until every service named has published PurgeCompleted for each erasure after
 * `afterSequence` (only the re-application can cause one: services purge on UserDeleted).
 * Answers the erasures still missing a service when time ran out (empty: all confirmed).
 */
export async function awaitPurges(options: { nc: NatsConnection; namespace: string; pending: readonly PendingErasure[]; afterSequence: number; timeoutMs: number; pollMs?: number; onProgress?: (confirmed: number) => void }): Promise<PendingErasure[]> {
  const deadline = Date.now() + options.timeoutMs;
  let missing = [...options.pending];
  for (;;) {
    const receipts = await readStoredEvents(options.nc, options.namespace, PurgeCompletedV1, { ...READER, fromSequence: options.afterSequence + 1 });
    const confirmed = new Set(receipts.filter((receipt) => receipt.scope === 'user' && receipt.erasureId !== null).map((receipt) => `${receipt.erasureId}|${receipt.service}`));
    missing = missing.map((erasure) => ({ ...erasure, services: erasure.services.filter((service) => !confirmed.has(`${erasure.erasureId}|${service}`)) })).filter((erasure) => erasure.services.length > 0);
    options.onProgress?.(options.pending.length - missing.length);
    if (missing.length === 0 || Date.now() >= deadline) return missing;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2_000));
  }
}

/** Nanoseconds of a stream's max age, in whole days (for the manifest and the retention rule). */
export const maxAgeDays = (maxAgeNs: number): number => maxAgeNs / NS_PER_MS / (24 * HOUR_MS);

import { readFile, rm, writeFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { SystemClock } from '@homiwork/clock';
import { ERASURE_DEADLINE_HOURS, ErasureApprovedV1, EVENTS_STREAM, PurgeCompletedV1, streamName, UserDeletedV1, type EventPayload } from '@homiwork/contracts';
import { Outbox, readStoredEvents } from '@homiwork/messaging';

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
 * What a restore learns before it overwrites anything, kept in `<backup>/reapply.json`
 * until the re-application is confirmed, so a restore interrupted after the overwrite can
 * be run again (the live database it read is gone by then). Opaque ids only.
 */
export interface ReapplyJournal {
  backupId: string;
  erasures: ErasureToReapply[];
  /** retention's erasure rows and receipts of those erasures as the live database had them: the legal record the backup predates. */
  records: { erasures: unknown[]; receipts: unknown[] };
  /** Set once the database and bucket are restored and the erasures queued again: a rerun only waits. */
  queued?: { afterSequence: number; pending: PendingErasure[] };
}

/**
 * Every erasure the restored database could still hold data of: each UserDeleted in the
 * events stream since the backup's snapshot less the erasure deadline (an erasure in
 * flight at the snapshot may have reached some schemas and not others). The events stream
 * is the source because it is not rolled back by a restore and it carries the erasure id;
 * the live database (read before it is overwritten) is the cross-check — every tombstone
 * identity wrote since then must be among them — and the source of retention's record.
 */
export async function collectErasures(options: { nc: NatsConnection; namespace: string; pool: pg.Pool; backupId: string; takenAt: Date }): Promise<ReapplyJournal> {
  const since = new Date(options.takenAt.getTime() - ERASURE_DEADLINE_HOURS * HOUR_MS);
  const stream = streamName(options.namespace, EVENTS_STREAM);
  const { state } = await (await jetstreamManager(options.nc)).streams.info(stream);
  // Aged-out messages would be erasures no one could find any more: refuse rather than restore them.
  if (state.first_seq > 1 && new Date(state.first_ts) > since) {
    throw new Error(`the events stream ${stream} begins at ${state.first_ts}, after ${since.toISOString()}: it no longer proves every erasure since this backup; restore a newer backup`);
  }
  const byErasure = new Map<string, ErasureToReapply>();
  for (const event of await readStoredEvents(options.nc, options.namespace, UserDeletedV1)) {
    if (new Date(event.deletedAt) >= since) byErasure.set(event.erasureId, { userId: event.userId, erasureId: event.erasureId, reason: event.reason, deletedAt: event.deletedAt });
  }
  const erasures = [...byErasure.values()];

  const known = new Set(erasures.map((erasure) => erasure.userId));
  const { rows: tombstones } = await options.pool.query<{ user_id: string }>('SELECT user_id FROM identity.tombstones WHERE erased_at >= $1', [since]);
  const unknown = tombstones.filter((row) => !known.has(row.user_id)).length;
  if (unknown > 0) throw new Error(`${unknown} account(s) erased since ${since.toISOString()} have no UserDeleted in the events stream: cannot re-apply them`);
  const ids = erasures.map((erasure) => erasure.erasureId);
  const { rows: records } = await options.pool.query<{ row: unknown }>('SELECT row_to_json(e) AS row FROM retention.erasures e WHERE id = ANY($1::uuid[])', [ids]);
  const { rows: receipts } = await options.pool.query<{ row: unknown }>('SELECT row_to_json(r) AS row FROM retention.erasure_receipts r WHERE erasure_id = ANY($1::uuid[])', [ids]);
  return { backupId: options.backupId, erasures, records: { erasures: records.map((r) => r.row), receipts: receipts.map((r) => r.row) } };
}

export async function saveJournal(path: string, journal: ReapplyJournal): Promise<void> {
  await writeFile(path, JSON.stringify(journal), { mode: 0o600 });
}

export async function loadJournal(path: string): Promise<ReapplyJournal | null> {
  return readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as ReapplyJournal,
    () => null,
  );
}

export const removeJournal = (path: string): Promise<void> => rm(path, { force: true });

/**
 * Puts retention's record of the erasures back as the live database had it (completed,
 * user id dropped, the signed receipt), over the older state the backup restored: the
 * re-applied purges then confirm into a completed erasure and change nothing there.
 */
export async function restoreErasureRecords(pool: pg.Pool, journal: ReapplyJournal): Promise<void> {
  const ids = journal.erasures.map((erasure) => erasure.erasureId);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('DELETE FROM retention.erasures WHERE id = ANY($1::uuid[])', [ids]);
    await client.query('INSERT INTO retention.erasures SELECT * FROM json_populate_recordset(NULL::retention.erasures, $1::json)', [JSON.stringify(journal.records.erasures)]);
    await client.query('INSERT INTO retention.erasure_receipts SELECT * FROM json_populate_recordset(NULL::retention.erasure_receipts, $1::json)', [JSON.stringify(journal.records.receipts)]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
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
    const receipts = await readStoredEvents(options.nc, options.namespace, PurgeCompletedV1, { fromSequence: options.afterSequence + 1 });
    const confirmed = new Set(receipts.filter((receipt) => receipt.scope === 'user' && receipt.erasureId !== null).map((receipt) => `${receipt.erasureId}|${receipt.service}`));
    missing = missing.map((erasure) => ({ ...erasure, services: erasure.services.filter((service) => !confirmed.has(`${erasure.erasureId}|${service}`)) })).filter((erasure) => erasure.services.length > 0);
    options.onProgress?.(options.pending.length - missing.length);
    if (missing.length === 0 || Date.now() >= deadline) return missing;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2_000));
  }
}

/** Nanoseconds of a stream's max age, in whole days (for the manifest and the retention rule). */
export const maxAgeDays = (maxAgeNs: number): number => maxAgeNs / NS_PER_MS / (24 * HOUR_MS);

import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { PurgeCompletedV1, SAFETY_NET_GRACE_DAYS, type EventPayload } from '@homiwork/contracts';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { EventsOutbox } from '@homiwork/messaging';
import { LegalHolds } from '@homiwork/service-kit';
import { UploadsRepository, type Upload } from '../../persistence/uploads.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * Uploads per sweep transaction: one S3 DeleteObjects request (at most 1,000 keys), one
 * DELETE, and row locks held for a second or so rather than for the whole backlog.
 */
export const SWEEP_BATCH_SIZE = 500;

/**
 * Media's purges, each confirmed with PurgeCompleted (R8.3): every upload of an erased
 * user (R1.5), one expired upload (§5.3), and one pass over whatever is past its 7 days.
 * Objects are deleted before rows, inside the transaction (the event handler's, which
 * these join), so a failure retries the whole purge and deletion is idempotent.
 * The erasure records the user's tombstone first, so no upload still in flight can be
 * stored for the user afterwards (StoreUpload guards its write with it).
 */
@Injectable()
export class PurgeUploads {
  constructor(
    private readonly transactor: Transactor,
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    private readonly holds: LegalHolds,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  allOfUser(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      // Waits for every upload of the user already past its guard to commit, so the
      // listing and the DELETE below see them; every later upload is refused.
      await this.tombstones.record(userId, this.clock.now());
      const objects = await this.store.removeAllForOwner(userId);
      const uploads = await this.uploads.deleteAllOfUser(userId);
      await this.confirm({ userId, erasureId, scope: 'user', scopeId: userId, trigger, counts: { uploads, objects } });
    });
  }

  /**
   * Retention's UploadExpired. Retention fired it when no hold stood, but a hold placed since
   * (the consumer lagging or down) still counts: the owner is asked about just before the
   * deletion, under the row lock. A held owner's upload stays — confirmed with zero counts,
   * as for one already gone — and media's own sweep takes it after the release. Without
   * retention's answer this throws LegalHoldsUnknown (its cause a 503/504): the consumer holds
   * the event and tries it again later, nothing deleted meanwhile.
   */
  one(uploadId: string, userId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const upload = await this.uploads.findByIdForUpdate(uploadId);
      const held = upload !== undefined && (await this.holds.heldAmong([upload.userId])).size > 0;
      await this.removeLocked(held ? undefined : upload, uploadId, upload?.userId ?? userId, trigger);
    });
  }

  /** The sweep's retry of one upload alone, its owner already cleared of holds in this batch. */
  private oneCleared(uploadId: string, userId: string): Promise<void> {
    return this.transactor.run(async () => this.removeLocked(await this.uploads.findByIdForUpdate(uploadId), uploadId, userId, null));
  }

  /** Deletes the upload found under its row lock (none: zero counts) and confirms. */
  private async removeLocked(upload: Upload | undefined, uploadId: string, userId: string, trigger: Trigger): Promise<void> {
    const objects = upload ? await this.store.remove([upload.objectKey]) : 0;
    const uploads = upload ? await this.uploads.deleteById(uploadId) : 0;
    await this.confirm({ userId, erasureId: null, scope: 'upload', scopeId: uploadId, trigger, counts: { uploads, objects } });
  }

  /**
   * §2.1.6: the user deleted generated content, and the uploads it was made from go with
   * it — only those the user owns (an id naming someone else's upload deletes nothing).
   * One receipt per id asked for, with zero counts for one already gone (expired, deleted
   * by hand, or never the user's), so a redelivery confirms again and changes nothing.
   */
  ofDeletedContent(userId: string, uploadIds: readonly string[], trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const owned = await this.uploads.findOwnedForUpdate(userId, [...new Set(uploadIds)]);
      if (owned.length > 0) {
        await this.store.remove(owned.map((upload) => upload.objectKey));
        await this.uploads.deleteByIds(owned.map((upload) => upload.id));
      }
      const found = new Set(owned.map((upload) => upload.id));
      for (const uploadId of new Set(uploadIds)) {
        const n = found.has(uploadId) ? 1 : 0;
        await this.confirm({ userId, erasureId: null, scope: 'upload', scopeId: uploadId, trigger, counts: { uploads: n, objects: n } });
      }
    });
  }

  /** Uploads past their 7 days and still stored, held ones included (purge_backlog_items{kind="upload"}). */
  backlog(): Promise<number> {
    return this.uploads.countDue(this.clock.now());
  }

  /**
   * The safety net for §5.3 (`UploadSweeper` schedules it): retention's UploadExpired acts
   * at the due time (`one`); this pass takes what is still there SAFETY_NET_GRACE_DAYS
   * after it was due — so each upload it removes is one retention missed. In batches, each
   * its own transaction, until nothing due is left, so one run drains any backlog; before
   * each batch the owners of its candidates are asked of retention (LegalHolds.sweep), and
   * only uploads of owners under no legal hold (§12.2) are taken. Returns how many uploads
   * it deleted; throws LegalHoldsUnknown when retention does not answer (nothing more
   * deleted), or an AggregateError naming uploads whose object could not be removed.
   */
  async expired(batchSize = SWEEP_BATCH_SIZE): Promise<number> {
    const failed: string[] = [];
    const failures: unknown[] = [];
    const total = await this.holds.sweep({
      batchSize,
      candidates: (heldSoFar) => this.uploads.expiredCandidates(this.safetyNetCutoff(), batchSize, failed, heldSoFar),
      purge: (cleared) => {
        const sweep = { excluding: failed, ofUsers: cleared };
        return this.expiredBatch(batchSize, sweep).catch(() => this.expiredOneByOne(batchSize, sweep, failures));
      },
    });
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} expired upload(s) could not be purged; ${total} were`);
    return total;
  }

  /**
   * When a batch fails, each of its uploads alone, so one upload whose object cannot be
   * removed holds back no other: it is left out for the rest of this run (it would be
   * the oldest, picked first by every batch) and reported at the end.
   */
  private async expiredOneByOne(limit: number, sweep: { excluding: string[]; ofUsers: readonly string[] }, failures: unknown[]): Promise<{ count: number; seen: number }> {
    const due = await this.uploads.expiredBefore(this.safetyNetCutoff(), limit, sweep.excluding, sweep.ofUsers);
    let count = 0;
    for (const upload of due) {
      try {
        await this.oneCleared(upload.id, upload.userId);
        count++;
      } catch (error) {
        sweep.excluding.push(upload.id);
        failures.push(error);
      }
    }
    return { count, seen: due.length };
  }

  /** One batch: one DeleteObjects request, one DELETE, and a receipt per upload. */
  private expiredBatch(limit: number, sweep: { excluding: readonly string[]; ofUsers: readonly string[] }): Promise<{ count: number; seen: number }> {
    if (sweep.ofUsers.length === 0) return Promise.resolve({ count: 0, seen: 0 });
    return this.transactor.run(async () => {
      const due = await this.uploads.expiredBefore(this.safetyNetCutoff(), limit, sweep.excluding, sweep.ofUsers);
      if (due.length === 0) return { count: 0, seen: 0 };
      // remove() throws unless every key is confirmed gone, so each receipt's 1 object is true.
      await this.store.remove(due.map((upload) => upload.objectKey));
      await this.uploads.deleteByIds(due.map((upload) => upload.id));
      for (const upload of due) {
        await this.confirm({ userId: upload.userId, erasureId: null, scope: 'upload', scopeId: upload.id, trigger: null, counts: { uploads: 1, objects: 1 } });
      }
      return { count: due.length, seen: due.length };
    });
  }

  /** Uploads due at or before this moment are the safety net's: due more than SAFETY_NET_GRACE_DAYS ago. */
  private safetyNetCutoff(): Date {
    return addDays(this.clock.now(), -SAFETY_NET_GRACE_DAYS);
  }

  private async confirm(purge: Omit<EventPayload<typeof PurgeCompletedV1>, 'service' | 'purgedAt'>): Promise<void> {
    await this.outbox.append(PurgeCompletedV1, { service: 'media', ...purge, purgedAt: this.clock.now().toISOString() });
  }
}

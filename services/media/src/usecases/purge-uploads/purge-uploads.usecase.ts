import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { EventsOutbox } from '../../persistence/events-outbox.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * Media's purges, each confirmed with PurgeCompleted (R8.3): every upload of an erased
 * user (R1.5), one expired upload (§5.3), and one pass over whatever is past its 7 days.
 * Objects are deleted before rows, inside the transaction (the event handler's, which
 * these join), so a failure retries the whole purge and deletion is idempotent.
 */
@Injectable()
export class PurgeUploads {
  constructor(
    private readonly transactor: Transactor,
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  allOfUser(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const objects = await this.store.removeAllForOwner(userId);
      const uploads = await this.uploads.deleteAllOfUser(userId);
      await this.confirm({ userId, erasureId, scope: 'user', scopeId: userId, trigger, counts: { uploads, objects } });
    });
  }

  one(uploadId: string, userId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const upload = await this.uploads.findByIdForUpdate(uploadId);
      const objects = upload ? await this.store.remove([upload.objectKey]) : 0;
      const uploads = upload ? await this.uploads.deleteById(uploadId) : 0;
      await this.confirm({ userId: upload?.userId ?? userId, erasureId: null, scope: 'upload', scopeId: uploadId, trigger, counts: { uploads, objects } });
    });
  }

  /** The safety net for §5.3 (one pass, `UploadSweeper` schedules it): whatever is past its 7 days goes, even if no event asked. */
  expired(limit = 100): Promise<number> {
    return this.transactor.run(async () => {
      const expired = await this.uploads.expiredBefore(this.clock.now(), limit);
      for (const upload of expired) await this.one(upload.id, upload.userId, null);
      return expired.length;
    });
  }

  private async confirm(purge: Omit<EventPayload<typeof PurgeCompletedV1>, 'service' | 'purgedAt'>): Promise<void> {
    await this.outbox.append(PurgeCompletedV1, { service: 'media', ...purge, purgedAt: this.clock.now().toISOString() });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { ObjectStore } from '@homiwork/storage';
import { UploadsRepository } from '../../persistence/uploads.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * Media's purges, each confirmed with PurgeCompleted (R8.3): every upload of an erased
 * user (R1.5), one expired upload (§5.3). Objects are deleted before rows, inside the
 * event's transaction, so a failure retries the whole purge and deletion is idempotent.
 */
@Injectable()
export class PurgeUploads {
  constructor(
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: Outbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async allOfUser(manager: EntityManager, userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    const objects = await this.store.removeAllForOwner(userId);
    const uploads = await this.uploads.deleteAllOfUser(manager, userId);
    await this.confirm(manager, { userId, erasureId, scope: 'user', scopeId: userId, trigger, counts: { uploads, objects } });
  }

  async one(manager: EntityManager, uploadId: string, userId: string, trigger: Trigger): Promise<void> {
    const row = await this.uploads.findById(manager, uploadId);
    const objects = row ? await this.store.remove([row.object_key]) : 0;
    const uploads = row ? await this.uploads.deleteById(manager, uploadId) : 0;
    await this.confirm(manager, { userId: row?.user_id ?? userId, erasureId: null, scope: 'upload', scopeId: uploadId, trigger, counts: { uploads, objects } });
  }

  /** The safety net for §5.3: whatever is past its 7 days goes, even if no event asked. */
  async expired(manager: EntityManager, limit = 100): Promise<number> {
    const rows = await this.uploads.expiredBefore(manager, this.clock.now(), limit);
    for (const row of rows) await this.one(manager, row.id, row.user_id, null);
    return rows.length;
  }

  private async confirm(manager: EntityManager, purge: Omit<EventPayload<typeof PurgeCompletedV1>, 'service' | 'purgedAt'>): Promise<void> {
    await this.outbox.append(manager, PurgeCompletedV1, { service: 'media', ...purge, purgedAt: this.clock.now().toISOString() });
  }
}

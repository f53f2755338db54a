import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { UserDataKeys } from '@homiwork/data-keys';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { UserRecordsRepository } from '../../persistence/user-records.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * R1.5 for retention's own schema, on UserDeleted, in one transaction (the consumer's):
 * the tombstone first (it waits for the user's writes under way and refuses later ones —
 * the policy clock's handlers guard with it), then
 * - `due_items` and `prime_status` rows of the user: deleted;
 * - `exports` rows: deleted, and every object under the user's prefix `retention/<userId>/`
 *   (the export archives, `retention/<userId>/exports/<exportId>`) removed from the object
 *   store — objects before the commit, so a failure retries the whole purge with the rows
 *   still naming what is left;
 * - `privacy_requests`: unlinked (user_id NULL) — the request, its dates and its
 *   `privacy_request_history` stay as the proof that the right was honoured, without the person;
 * - `user_data_keys`: the user's data key destroyed (crypto-shredding: a copy of an export's
 *   sealed key anywhere is unreadable from the commit on);
 * then PurgeCompleted {service: retention, scope: user, erasureId, counts}.
 * Kept on purpose: `legal_holds`, `erasures` and `erasure_receipts` — the legal record of
 * why data was kept and that it was erased (an erasure's user_id goes when it completes).
 * A duplicate UserDeleted purges nothing more and its receipt is ignored (first one wins).
 */
@Injectable()
export class PurgeUser {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly records: UserRecordsRepository,
    private readonly store: ObjectStore,
    private readonly keys: UserDataKeys,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const now = this.clock.now();
      await this.tombstones.record(userId, now);
      const objects = await this.store.removeAllForOwner(userId);
      const exports = (await this.records.deleteExports(userId)).rows;
      const dueItems = await this.records.deleteDueItems(userId);
      const primeStatus = await this.records.deletePrimeStatus(userId);
      const privacyRequestsUnlinked = await this.records.unlinkPrivacyRequests(userId);
      const dataKeys = await this.keys.destroy(userId);
      await this.outbox.append(PurgeCompletedV1, {
        service: 'retention',
        userId,
        erasureId,
        scope: 'user',
        scopeId: userId,
        trigger,
        counts: { due_items: dueItems, prime_status: primeStatus, exports, objects, privacy_requests_unlinked: privacyRequestsUnlinked, data_keys: dataKeys },
        purgedAt: this.clock.now().toISOString(),
      });
    });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { EventsOutbox } from '@homiwork/messaging';
import { RecordsRepository } from '../../persistence/records.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * R1.5: everything chat keeps about an erased user goes, confirmed with PurgeCompleted.
 * The tombstone is recorded first, in the same transaction (the event handler's, which
 * this joins): it waits for every write of the user already under way to commit, so the
 * deletes below see it, and it refuses every later one. The rule for every write this
 * service ever makes for a user — inside the write's `Transactor.run`, before writing:
 *
 *     await this.tombstones.guard(userId); // throws UserErased once the user is purged
 */
@Injectable()
export class PurgeUser {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly records: RecordsRepository,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const now = this.clock.now();
      await this.tombstones.record(userId, now);
      const records = await this.records.deleteAllOfUser(userId);
      await this.outbox.append(PurgeCompletedV1, { service: 'chat', userId, erasureId, scope: 'user', scopeId: userId, trigger, counts: { records }, purgedAt: now.toISOString() });
    });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { ContentsRepository } from '../../persistence/contents.repository.js';
import { JobsRepository } from '../../persistence/jobs.repository.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';
import { ProcessingRestrictionsRepository } from '@homiwork/persistence';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * R1.5: everything generation keeps about an erased user goes — jobs, content rows, the
 * Prime copy, and every object under `generation/<userId>/` (trash included) — confirmed
 * with PurgeCompleted (counts only). The tombstone is recorded first, in the same
 * transaction (the event handler's, which this joins): it waits for every write of the user
 * already under way to commit, so the deletes below see it, and it refuses every later one
 * (a job finishing after this stores nothing, and removes the object it put). Objects go
 * before rows, so a failure retries the whole purge with the rows still naming what is left.
 */
@Injectable()
export class PurgeUser {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly jobs: JobsRepository,
    private readonly contents: ContentsRepository,
    private readonly prime: PrimeStatusRepository,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const now = this.clock.now();
      await this.tombstones.record(userId, now);
      const objects = await this.store.removeAllForOwner(userId);
      const contents = await this.contents.deleteAllOfUser(userId);
      const jobs = await this.jobs.deleteAllOfUser(userId);
      await this.prime.deleteOfUser(userId);
      await this.restrictions.deleteOfUser(userId);
      await this.outbox.append(PurgeCompletedV1, { service: 'generation', userId, erasureId, scope: 'user', scopeId: userId, trigger, counts: { jobs, contents, objects }, purgedAt: this.clock.now().toISOString() });
    });
  }
}

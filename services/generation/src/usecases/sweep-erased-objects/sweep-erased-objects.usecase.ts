import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { GenerationConfig } from '../../config.js';
import { ErasedUsersRepository } from '../../persistence/erased-users.repository.js';

/**
 * R1.5: nothing of an erased user may outlive the purge, not even an object written after
 * it. A job's result is put before the transaction whose tombstone guard refuses it, and
 * removed again when refused — but a put the store completes only after the client gave up
 * on it, a failed removal or a crash in between leaves an object under the prefix the
 * purge already emptied. So every sweep also empties the prefix of each user erased in the
 * last ERASED_OBJECTS_SWEEP_DAYS (a tombstone refuses every new write for them, so whatever
 * is there is such a leftover). Returns how many objects it removed.
 */
@Injectable()
export class SweepErasedObjects {
  constructor(
    private readonly erased: ErasedUsersRepository,
    private readonly store: ObjectStore,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(): Promise<number> {
    const since = addDays(this.clock.now(), -this.config.ERASED_OBJECTS_SWEEP_DAYS);
    let removed = 0;
    const failures: unknown[] = [];
    // One user's prefix that cannot be listed or emptied holds back no other.
    for (const userId of await this.erased.erasedSince(since)) {
      try {
        removed += await this.store.removeAllForOwner(userId);
      } catch (error) {
        failures.push(error);
      }
    }
    // Counts only: the ids of erased users are not written to logs.
    if (removed > 0) this.logger.warn({ objects: removed }, 'objects written after their owner’s erasure were removed');
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} erased user prefix(es) could not be emptied; ${removed} object(s) were removed`);
    return removed;
  }
}

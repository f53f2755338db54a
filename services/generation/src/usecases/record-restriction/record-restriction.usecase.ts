import { Injectable } from '@nestjs/common';
import type { EventPayload, ProcessingRestrictionChangedV1 } from '@homiwork/contracts';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { ProcessingRestrictionsRepository } from '../../persistence/processing-restrictions.repository.js';

/**
 * R7.3: a restriction of processing or an objection came into force, or the last one was
 * lifted. The newest state (by `changedAt`) is kept; CreateGeneration reads it and refuses while it
 * is in force. Runs in the consumer's transaction; an erased user's state is not recorded.
 */
@Injectable()
export class RecordRestriction {
  constructor(
    private readonly transactor: Transactor,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly tombstones: UserTombstones,
  ) {}

  /** Whether this change was applied (false for a stale one or an erased user's). */
  async execute(change: EventPayload<typeof ProcessingRestrictionChangedV1>): Promise<boolean> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(change.userId);
        return this.restrictions.record(change.userId, change.restricted, new Date(change.changedAt));
      });
    } catch (error) {
      if (error instanceof UserErased) return false;
      throw error;
    }
  }
}

import { Injectable } from '@nestjs/common';
import type { EventPayload, PrimeStatusChangedV1 } from '@homiwork/contracts';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';

/**
 * §5.5: Prime started, was extended or ended. Chat keeps the newest status (by `changedAt`;
 * an older one delivered late changes nothing); the retention sweep reads it, so nothing
 * else changes here. Runs in the consumer's transaction; an erased user's status is not recorded.
 */
@Injectable()
export class RecordPrimeStatus {
  constructor(
    private readonly transactor: Transactor,
    private readonly prime: PrimeStatusRepository,
    private readonly tombstones: UserTombstones,
  ) {}

  /** Whether this status was applied (false for a stale one or an erased user's). */
  async execute(change: EventPayload<typeof PrimeStatusChangedV1>): Promise<boolean> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(change.userId);
        return this.prime.record(change.userId, { active: change.active, expiresAt: change.expiresAt ? new Date(change.expiresAt) : null, changedAt: new Date(change.changedAt) });
      });
    } catch (error) {
      if (error instanceof UserErased) return false;
      throw error;
    }
  }
}

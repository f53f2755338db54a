import { Inject, Injectable } from '@nestjs/common';
import type { EventPayload, PrimeStatusChangedV1 } from '@homiwork/contracts';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { GenerationConfig } from '../../config.js';
import { expiryPlan } from '../../domain/content-retention.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';

/**
 * §5.4: Prime started, was extended or ended. Generation keeps the newest status (by
 * `changedAt`; an older one delivered late changes nothing) and re-plans the expiry of all
 * the user's content in one statement: none while Prime lasts, the standard rule counted
 * from the end of Prime once it ends. Runs in the consumer's transaction; a redelivery
 * is older-or-equal, so it changes nothing. An erased user's status is not recorded.
 */
@Injectable()
export class RecordPrimeStatus {
  constructor(
    private readonly transactor: Transactor,
    private readonly prime: PrimeStatusRepository,
    private readonly contents: ContentsRepository,
    private readonly tombstones: UserTombstones,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  /** Returns how many items were re-planned (0 for a stale or erased user's status). */
  async execute(change: EventPayload<typeof PrimeStatusChangedV1>): Promise<number> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(change.userId);
        await this.prime.lockForReplan(change.userId);
        const status = { active: change.active, expiresAt: change.expiresAt ? new Date(change.expiresAt) : null, changedAt: new Date(change.changedAt) };
        if (!(await this.prime.record(change.userId, status))) return 0;
        return this.contents.replanExpiry(change.userId, expiryPlan(status), this.config.CONTENT_RETENTION_DAYS);
      });
    } catch (error) {
      if (error instanceof UserErased) return 0;
      throw error;
    }
  }
}

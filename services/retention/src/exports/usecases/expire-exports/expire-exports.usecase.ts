import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { Transactor } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { ExportsRepository } from '../../persistence/exports.repository.js';

const BATCH = 100;

/**
 * Archives whose link has expired (RETENTION_SCHEDULE.exports) go: the object, then the
 * row, in batches, each batch one transaction with its rows locked (SKIP LOCKED: instances
 * share the work). Objects go before the commit, so a failure leaves the rows naming
 * what is left for the next pass. The request stays `completed`; its link is gone.
 */
@Injectable()
export class ExpireExports {
  constructor(
    private readonly transactor: Transactor,
    private readonly exports: ExportsRepository,
    private readonly store: ObjectStore,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async run(): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.transactor.run(async () => {
        const expired = await this.exports.lockExpired(this.clock.now(), BATCH);
        if (expired.length === 0) return 0;
        await this.store.remove(expired.map((archive) => archive.objectKey));
        return this.exports.deleteMany(expired.map((archive) => archive.id));
      });
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { Transactor } from '@homiwork/persistence';
import { LegalHolds } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { JobsRepository } from '../../persistence/jobs.repository.js';
import { FailJob } from '../fail-job/fail-job.usecase.js';

const BATCH = 500;

/**
 * The jobs' part of the sweep. A job still unreserved GENERATION_UNRESERVED_AFTER_MS after
 * it was queued was left by a crash between its insert and its reservation: it is failed
 * with GenerationFinished(failed), so a reservation that did happen is refunded and one
 * still on its way is refused (billing voids the id). And a finished job's record — its
 * prompt long gone — is deleted JOB_RECORD_DAYS after it ended (data minimisation).
 */
@Injectable()
export class SweepJobs {
  constructor(
    private readonly transactor: Transactor,
    private readonly jobs: JobsRepository,
    private readonly failJob: FailJob,
    private readonly holds: LegalHolds,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  /**
   * Returns how many jobs it failed or deleted. Abandoned jobs are failed first (that
   * deletes nothing, so it needs no holds); then old records go in batches, each asking
   * retention about its candidates' owners first (LegalHolds.sweep): a held user's records
   * stay (§12.2). Throws LegalHoldsUnknown when retention does not answer — after the
   * failing of abandoned jobs, with no record of anyone deleted from then on.
   */
  async execute(): Promise<number> {
    let count = 0;
    for (;;) {
      const cutoff = new Date(this.clock.nowMs() - this.config.GENERATION_UNRESERVED_AFTER_MS);
      // Listed unlocked: each is then failed in its own transaction, which skips one that ended meanwhile.
      const abandoned = await this.jobs.unreservedBefore(cutoff, BATCH);
      let failed = 0;
      for (const job of abandoned) if (await this.failJob.execute(job, 'reservation_failed', 'unreserved')) failed++;
      count += failed;
      if (abandoned.length < BATCH || failed === 0) break;
    }
    const endedBefore = () => addDays(this.clock.now(), -this.config.JOB_RECORD_DAYS);
    count += await this.holds.sweep({
      batchSize: BATCH,
      candidates: (heldSoFar) => this.jobs.finishedCandidates(endedBefore(), BATCH, heldSoFar),
      purge: async (cleared) => {
        const deleted = cleared.length === 0 ? 0 : await this.transactor.run(() => this.jobs.deleteFinishedBefore(endedBefore(), BATCH, cleared));
        return { count: deleted, seen: deleted };
      },
    });
    return count;
  }
}

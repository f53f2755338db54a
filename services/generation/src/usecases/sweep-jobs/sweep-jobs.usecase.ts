import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { Transactor } from '@homiwork/persistence';
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
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  /**
   * Returns how many jobs it failed or deleted. `heldUserIds`: the users under a legal hold
   * (§12.2), whose records stay; undefined when retention did not say, and then no record
   * is deleted this round (abandoned jobs are still failed: that deletes nothing).
   */
  async execute(heldUserIds: readonly string[] | undefined): Promise<number> {
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
    for (;;) {
      if (!heldUserIds) break;
      const deleted = await this.transactor.run(() => this.jobs.deleteFinishedBefore(addDays(this.clock.now(), -this.config.JOB_RECORD_DAYS), BATCH, heldUserIds));
      count += deleted;
      if (deleted < BATCH) break;
    }
    return count;
  }
}

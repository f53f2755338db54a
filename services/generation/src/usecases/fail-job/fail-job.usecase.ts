import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { GenerationFinishedV1 } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { JOB_FAILURES, type JobFailureCode } from '../../domain/job-state.js';
import { JobsRepository, type JobFence } from '../../persistence/jobs.repository.js';

/**
 * Ends a job as failed — its prompt gone, its error a fixed code and message — and
 * announces GenerationFinished(failed) in the same transaction, so billing refunds a
 * reservation that was made (and voids one that was not yet, R4.4). A job that has ended
 * already changes nothing and announces nothing: the refund happens once. A fence limits
 * it further: a runner's claim ends only a job it still holds, the sweep only a job still
 * unreserved.
 */
@Injectable()
export class FailJob {
  constructor(
    private readonly transactor: Transactor,
    private readonly jobs: JobsRepository,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** True when this call ended the job. */
  async execute(job: { id: string; userId: string }, code: JobFailureCode, fence?: JobFence): Promise<boolean> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(job.userId);
        const now = this.clock.now();
        const ended = await this.jobs.finishFailed(job.id, { code, message: JOB_FAILURES[code] }, now, fence);
        if (!ended) return false;
        await this.outbox.append(GenerationFinishedV1, { userId: ended.userId, jobId: ended.id, purpose: ended.kind, outcome: 'failed', finishedAt: now.toISOString() });
        return true;
      });
    } catch (error) {
      // The user was purged: the job went with everything else, and billing purged its side.
      if (error instanceof UserErased) return false;
      throw error;
    }
  }
}

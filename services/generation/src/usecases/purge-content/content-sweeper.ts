import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { SweepJobs } from '../sweep-jobs/sweep-jobs.usecase.js';
import { PurgeContent } from './purge-content.usecase.js';

/**
 * Retention sends ContentExpired when an item's time is up; generation also sweeps on its
 * own every CONTENT_SWEEP_INTERVAL_MS — items past their expiry, trash past its days,
 * abandoned and old jobs — so §5.4 holds even while retention is down. The content part
 * runs even when the jobs part fails, and the other way round.
 */
@Injectable()
export class ContentSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeContent,
    private readonly sweepJobs: SweepJobs,
    @Inject(LOGGER) logger: Logger,
    @Inject(GenerationConfig) config: GenerationConfig,
  ) {
    super(logger, config.CONTENT_SWEEP_INTERVAL_MS, 'content and job sweep');
  }

  protected async run(): Promise<number> {
    const [contents, jobs] = await Promise.allSettled([this.purge.due(), this.sweepJobs.execute()]);
    if (contents.status === 'rejected') throw contents.reason;
    if (jobs.status === 'rejected') throw jobs.reason;
    return contents.value + jobs.value;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { SweepErasedObjects } from '../sweep-erased-objects/sweep-erased-objects.usecase.js';
import { SweepJobs } from '../sweep-jobs/sweep-jobs.usecase.js';
import { PurgeContent } from './purge-content.usecase.js';

/**
 * Retention sends ContentExpired when an item's time is up; generation also sweeps on its
 * own every CONTENT_SWEEP_INTERVAL_MS — items past their expiry, trash past its days,
 * abandoned and old jobs, and objects that landed under a recently erased user's prefix
 * after the purge — so §5.4 and R1.5 hold even while retention is down. Each part runs
 * even when another fails.
 */
@Injectable()
export class ContentSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeContent,
    private readonly sweepJobs: SweepJobs,
    private readonly sweepErasedObjects: SweepErasedObjects,
    @Inject(LOGGER) logger: Logger,
    @Inject(GenerationConfig) config: GenerationConfig,
  ) {
    super(logger, config.CONTENT_SWEEP_INTERVAL_MS, 'content and job sweep');
  }

  protected async run(): Promise<number> {
    const parts = await Promise.allSettled([this.purge.due(), this.sweepJobs.execute(), this.sweepErasedObjects.execute()]);
    let count = 0;
    for (const part of parts) {
      if (part.status === 'rejected') throw part.reason;
      count += part.value;
    }
    return count;
  }
}

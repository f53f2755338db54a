import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LegalHolds, LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { SweepErasedObjects } from '../sweep-erased-objects/sweep-erased-objects.usecase.js';
import { SweepJobs } from '../sweep-jobs/sweep-jobs.usecase.js';
import { PurgeContent } from './purge-content.usecase.js';

/**
 * Retention sends ContentExpired when an item's time is up and acts first; generation also
 * sweeps on its own every CONTENT_SWEEP_INTERVAL_MS — items a grace day past their expiry
 * or their days in the trash, abandoned and old jobs, and objects that landed under a
 * recently erased user's prefix after the purge — so §5.4 and R1.5 hold even while
 * retention's clock is down. Each pass first asks retention which users are under a legal
 * hold and leaves their content and job records alone; when retention does not answer,
 * nothing of any user is deleted this round (fails closed; abandoned jobs are still failed
 * and erased users' prefixes still emptied). Each part runs even when another fails.
 */
@Injectable()
export class ContentSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeContent,
    private readonly sweepJobs: SweepJobs,
    private readonly sweepErasedObjects: SweepErasedObjects,
    private readonly holds: LegalHolds,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(GenerationConfig) config: GenerationConfig,
  ) {
    super(log, config.CONTENT_SWEEP_INTERVAL_MS, 'content and job sweep');
  }

  protected async run(): Promise<number> {
    const held = await this.holds.heldUserIds().catch((error: unknown) => {
      this.log.warn({ err: error }, 'legal holds unknown (retention did not answer): the content sweep skips this round');
      return undefined;
    });
    const parts = await Promise.allSettled([held ? this.purge.due(held) : Promise.resolve(0), this.sweepJobs.execute(held), this.sweepErasedObjects.execute()]);
    let count = 0;
    for (const part of parts) {
      if (part.status === 'rejected') throw part.reason;
      count += part.value;
    }
    return count;
  }
}

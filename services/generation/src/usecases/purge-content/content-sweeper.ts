import { Inject, Injectable } from '@nestjs/common';
import { ServiceMetrics, type Logger } from '@homiwork/observability';
import { LegalHoldsUnknown, LOGGER, PeriodicSweeper, registerPurgeBacklog } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { SweepErasedObjects } from '../sweep-erased-objects/sweep-erased-objects.usecase.js';
import { SweepJobs } from '../sweep-jobs/sweep-jobs.usecase.js';
import { PurgeContent } from './purge-content.usecase.js';

/**
 * Retention sends ContentExpired when an item's time is up and acts first; generation also
 * sweeps on its own every CONTENT_SWEEP_INTERVAL_MS — items a grace day past their expiry
 * or their days in the trash, abandoned and old jobs, and objects that landed under a
 * recently erased user's prefix after the purge — so §5.4 and R1.5 hold even while
 * retention's clock is down. Each batch of content or job records first asks retention
 * which of its candidates' owners are under a legal hold and leaves them alone; when
 * retention does not answer, that part stops and deletes nothing more this round (fails
 * closed; abandoned jobs are still failed and erased users' prefixes still emptied — an
 * erased user was approved for erasure, so under no hold). Each part runs even when
 * another fails.
 */
@Injectable()
export class ContentSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeContent,
    private readonly sweepJobs: SweepJobs,
    private readonly sweepErasedObjects: SweepErasedObjects,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(GenerationConfig) config: GenerationConfig,
    metrics: ServiceMetrics,
  ) {
    super(log, config.CONTENT_SWEEP_INTERVAL_MS, 'content and job sweep');
    registerPurgeBacklog(metrics, log, { content: () => this.purge.backlog() });
  }

  protected async run(): Promise<number> {
    const parts = await Promise.allSettled([this.purge.due(), this.sweepJobs.execute(), this.sweepErasedObjects.execute()]);
    let count = 0;
    let holdsUnknown: LegalHoldsUnknown | undefined;
    for (const part of parts) {
      if (part.status === 'fulfilled') count += part.value;
      else if (part.reason instanceof LegalHoldsUnknown) holdsUnknown = part.reason;
      else throw part.reason;
    }
    if (holdsUnknown) this.log.warn({ err: holdsUnknown }, 'legal holds unknown (retention did not answer): the content sweep skips this round');
    return count;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { ServiceMetrics, type Logger } from '@homiwork/observability';
import { LegalHoldsUnknown, LOGGER, PeriodicSweeper, registerPurgeBacklog } from '@homiwork/service-kit';
import { MediaConfig } from '../../config.js';
import { PurgeUploads } from './purge-uploads.usecase.js';

/**
 * Retention sends UploadExpired when an upload's 7 days are over and acts first; media also
 * sweeps on its own every UPLOAD_SWEEP_INTERVAL_MS, a safety net taking what is still there
 * a grace day later, so the promise of §5.3 holds even while retention's clock is down.
 * Each batch first asks retention which of its candidates' owners are under a legal hold
 * and leaves them out; when retention does not answer, the pass stops there (fails closed:
 * a sweep that cannot see the holds deletes nothing more) and the next tick tries again.
 */
@Injectable()
export class UploadSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeUploads,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(MediaConfig) config: MediaConfig,
    metrics: ServiceMetrics,
  ) {
    super(log, config.UPLOAD_SWEEP_INTERVAL_MS, 'expired-upload sweep');
    registerPurgeBacklog(metrics, log, { upload: () => this.purge.backlog() });
  }

  protected async run(): Promise<number> {
    try {
      return await this.purge.expired();
    } catch (error) {
      if (!(error instanceof LegalHoldsUnknown)) throw error;
      this.log.warn({ err: error }, 'legal holds unknown (retention did not answer): the expired-upload sweep skips this round');
      return 0;
    }
  }
}

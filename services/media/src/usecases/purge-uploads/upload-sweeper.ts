import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { MediaConfig } from '../../config.js';
import { PurgeUploads } from './purge-uploads.usecase.js';

/**
 * Retention sends UploadExpired when an upload's 7 days are over; media also sweeps on
 * its own every UPLOAD_SWEEP_INTERVAL_MS, so the promise of §5.3 holds even while
 * retention is down. Each pass drains everything due (in batches).
 */
@Injectable()
export class UploadSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeUploads,
    @Inject(LOGGER) logger: Logger,
    @Inject(MediaConfig) config: MediaConfig,
  ) {
    super(logger, config.UPLOAD_SWEEP_INTERVAL_MS, 'expired-upload sweep');
  }

  protected run(): Promise<number> {
    return this.purge.expired();
  }
}

import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { MediaConfig } from '../../config.js';
import { PurgeUploads } from './purge-uploads.usecase.js';

/**
 * Retention sends UploadExpired when an upload's 7 days are over; media also sweeps on
 * its own every UPLOAD_SWEEP_INTERVAL_MS, so the promise of §5.3 holds even while
 * retention is down. Each run drains everything due (in batches); a run still going when
 * the next tick comes is not doubled.
 */
@Injectable()
export class UploadSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly purge: PurgeUploads,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(MediaConfig) private readonly config: MediaConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger.error({ err: error }, 'upload sweep failed'));
    }, this.config.UPLOAD_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One run; a call while a run is going joins it instead of starting a second. */
  sweep(): Promise<number> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<number> {
    const purged = await this.purge.expired();
    if (purged > 0) this.logger.info({ purged }, 'expired uploads deleted');
    return purged;
  }
}

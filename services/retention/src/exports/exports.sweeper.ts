import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { RetentionConfig } from '../config.js';
import { ExportsExpirySweeper } from './exports-expiry.sweeper.js';
import { ExportBuilder } from './usecases/build-export/export-builder.js';

/**
 * Every RETENTION_AUDIT_INTERVAL_MS, on every instance: first a pass of the expiry sweep
 * (joined if its own timer's pass is running), then the builds that are due (never started,
 * their instance gone, their back-off over). Expiry failing does not stop the builds, nor
 * the builds the expiry: each has its own pass, and expiry its own timer too.
 */
@Injectable()
export class ExportsSweeper extends PeriodicSweeper {
  constructor(
    private readonly builder: ExportBuilder,
    private readonly expiry: ExportsExpirySweeper,
    @Inject(RetentionConfig) config: RetentionConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    super(logger, config.RETENTION_AUDIT_INTERVAL_MS, 'export build sweep');
  }

  protected async run(): Promise<number> {
    const [expired, built] = await Promise.allSettled([this.expiry.sweep(), this.builder.buildDue()]);
    if (expired.status === 'rejected') throw expired.reason;
    if (built.status === 'rejected') throw built.reason;
    return expired.value + built.value;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { RetentionConfig } from '../config.js';
import { ExportBuilder } from './usecases/build-export/export-builder.js';
import { ExpireExports } from './usecases/expire-exports/expire-exports.usecase.js';

/**
 * Every RETENTION_AUDIT_INTERVAL_MS, on every instance: builds that are due (never
 * started, their instance gone, their back-off over) are built, and expired archives deleted.
 */
@Injectable()
export class ExportsSweeper extends PeriodicSweeper {
  constructor(
    private readonly builder: ExportBuilder,
    private readonly expire: ExpireExports,
    @Inject(RetentionConfig) config: RetentionConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    super(logger, config.RETENTION_AUDIT_INTERVAL_MS, 'export sweep');
  }

  protected async run(): Promise<number> {
    const built = await this.builder.buildDue();
    const expired = await this.expire.run();
    return built + expired;
  }
}

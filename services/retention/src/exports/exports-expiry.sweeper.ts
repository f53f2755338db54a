import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { RetentionConfig } from '../config.js';
import { ExpireExports } from './usecases/expire-exports/expire-exports.usecase.js';

/**
 * Every RETENTION_AUDIT_INTERVAL_MS, on every instance: archives whose link has expired
 * are deleted. On a timer of its own, apart from the builds (ExportsSweeper), so a backlog
 * of builds — or a build pass that hangs — never holds back a deletion the schedule owes.
 */
@Injectable()
export class ExportsExpirySweeper extends PeriodicSweeper {
  constructor(
    private readonly expire: ExpireExports,
    @Inject(RetentionConfig) config: RetentionConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    super(logger, config.RETENTION_AUDIT_INTERVAL_MS, 'export expiry sweep');
  }

  protected run(): Promise<number> {
    return this.expire.run();
  }
}

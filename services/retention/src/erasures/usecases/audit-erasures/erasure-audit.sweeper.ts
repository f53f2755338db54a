import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { RetentionConfig } from '../../../config.js';
import { AuditErasures } from './audit-erasures.usecase.js';

/** Looks for overdue erasures every RETENTION_AUDIT_INTERVAL_MS (gauges and log lines). */
@Injectable()
export class ErasureAuditSweeper extends PeriodicSweeper {
  constructor(
    private readonly audit: AuditErasures,
    @Inject(LOGGER) logger: Logger,
    @Inject(RetentionConfig) config: RetentionConfig,
  ) {
    super(logger, config.RETENTION_AUDIT_INTERVAL_MS, 'erasure audit');
  }

  protected run(): Promise<number> {
    return this.audit.execute();
  }
}

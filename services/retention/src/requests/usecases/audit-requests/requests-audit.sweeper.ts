import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { RetentionConfig } from '../../../config.js';
import { AuditPrivacyRequests } from './audit-requests.usecase.js';

/** Runs AuditPrivacyRequests every RETENTION_AUDIT_INTERVAL_MS on every instance (each pass is idempotent). */
@Injectable()
export class RequestsAuditSweeper extends PeriodicSweeper {
  constructor(
    private readonly audit: AuditPrivacyRequests,
    @Inject(RetentionConfig) config: RetentionConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    super(logger, config.RETENTION_AUDIT_INTERVAL_MS, 'privacy request audit');
  }

  protected run(): Promise<number> {
    return this.audit.run();
  }
}

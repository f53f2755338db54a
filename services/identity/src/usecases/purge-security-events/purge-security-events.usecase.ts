import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@homiwork/clock';
import type { Logger } from '@homiwork/observability';
import { LOGGER, SERVICE_CONFIG, type ServiceKitOptions } from '@homiwork/service-kit';
import type { IdentityConfig } from '../../config.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';

/** §5.6: technical logs and address hashes are kept for 12 months, then deleted. */
export const SECURITY_EVENT_RETENTION_MONTHS = 12;

export function securityEventCutoff(now: Date): Date {
  const cutoff = new Date(now);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - SECURITY_EVENT_RETENTION_MONTHS);
  return cutoff;
}

/** A scheduled purge: every interval, delete what the clock says is older than 12 months. */
@Injectable()
export class PurgeSecurityEvents implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly securityEvents: SecurityEventsRepository,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) options: ServiceKitOptions,
  ) {
    this.intervalMs = (options.config as IdentityConfig).SECURITY_EVENT_PURGE_INTERVAL_MS;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.execute().catch((error: unknown) => this.logger.error({ err: error }, 'security event purge failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async execute(): Promise<number> {
    const deleted = await this.securityEvents.deleteOlderThan(this.dataSource.manager, securityEventCutoff(this.clock.now()));
    if (deleted > 0) this.logger.info({ deleted }, 'security events past 12 months deleted');
    return deleted;
  }
}

import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { IdentityConfig } from '../../config.js';
import { PurgeSecurityEvents } from './purge-security-events.usecase.js';

/** Runs the security-event purge every SECURITY_EVENT_PURGE_INTERVAL_MS while the service is up. */
@Injectable()
export class SecurityEventSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly purge: PurgeSecurityEvents,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(IdentityConfig) private readonly config: IdentityConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger.error({ err: error }, 'security event purge failed'));
    }, this.config.SECURITY_EVENT_PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<number> {
    const deleted = await this.purge.execute();
    if (deleted > 0) this.logger.info({ deleted }, 'security events past 12 months deleted');
    return deleted;
  }
}

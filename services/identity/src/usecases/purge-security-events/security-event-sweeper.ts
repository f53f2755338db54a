import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { IdentityConfig } from '../../config.js';
import { PurgeSecurityEvents } from './purge-security-events.usecase.js';

/** Runs the purge of security events past 12 months (§5.6) every SECURITY_EVENT_PURGE_INTERVAL_MS. */
@Injectable()
export class SecurityEventSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeSecurityEvents,
    @Inject(LOGGER) logger: Logger,
    @Inject(IdentityConfig) config: IdentityConfig,
  ) {
    super(logger, config.SECURITY_EVENT_PURGE_INTERVAL_MS, 'security-event purge');
  }

  protected run(): Promise<number> {
    return this.purge.execute();
  }
}

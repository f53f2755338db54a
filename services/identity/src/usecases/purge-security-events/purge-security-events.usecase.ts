import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { Logger } from '@homiwork/observability';
import { LegalHolds, LOGGER } from '@homiwork/service-kit';
import { IdentityConfig } from '../../config.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';

/** §5.6: technical logs and address hashes are kept SECURITY_EVENT_RETENTION_DAYS (the schedule's 12 months), then deleted. */
export function securityEventCutoff(now: Date, retentionDays: number): Date {
  return addDays(now, -retentionDays);
}

/**
 * One purge pass (`SecurityEventSweeper` schedules it). Security events are identity's own
 * schedule (`actsFirst: 'service'` in RETENTION_SCHEDULE): no event from retention, the
 * period alone, by the service clock. Events of a user under a legal hold stay (§12.2
 * "retain necessary data for investigation"): the holds are asked of retention before every
 * pass, and when retention does not answer the pass does not run (fails closed) — logged
 * once until a pass runs again, and no error.
 */
@Injectable()
export class PurgeSecurityEvents {
  private holdsUnavailable = false;

  constructor(
    private readonly securityEvents: SecurityEventsRepository,
    private readonly holds: LegalHolds,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(IdentityConfig) private readonly config: Pick<IdentityConfig, 'SECURITY_EVENT_RETENTION_DAYS'>,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Returns how many events were deleted (0 when the pass was skipped). One statement, so no transaction of its own. */
  async execute(): Promise<number> {
    let held: string[];
    try {
      held = await this.holds.heldUserIds();
    } catch (error) {
      if (!this.holdsUnavailable) this.logger.warn({ err: error }, 'security-event purge skipped: legal holds unavailable (retention did not answer); nothing deleted until it does');
      this.holdsUnavailable = true;
      return 0;
    }
    this.holdsUnavailable = false;
    return this.securityEvents.deleteOlderThan(securityEventCutoff(this.clock.now(), this.config.SECURITY_EVENT_RETENTION_DAYS), { exceptUserIds: held });
  }
}

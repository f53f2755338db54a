import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';

/** §5.6: technical logs and address hashes are kept for 12 months, then deleted. */
export const SECURITY_EVENT_RETENTION_MONTHS = 12;

export function securityEventCutoff(now: Date): Date {
  const cutoff = new Date(now);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - SECURITY_EVENT_RETENTION_MONTHS);
  return cutoff;
}

/** One purge pass: delete what the service clock says is older than 12 months. `SecurityEventSweeper` schedules it. */
@Injectable()
export class PurgeSecurityEvents {
  constructor(
    private readonly securityEvents: SecurityEventsRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** Returns how many events were deleted. One statement, so no transaction of its own. */
  execute(): Promise<number> {
    return this.securityEvents.deleteOlderThan(securityEventCutoff(this.clock.now()));
  }
}

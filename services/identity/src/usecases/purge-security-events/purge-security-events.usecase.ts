import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { Logger } from '@homiwork/observability';
import { LegalHolds, LegalHoldsUnknown, LOGGER } from '@homiwork/service-kit';
import { IdentityConfig } from '../../config.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';

/** §5.6: technical logs and address hashes are kept SECURITY_EVENT_RETENTION_DAYS (the schedule's 12 months), then deleted. */
export function securityEventCutoff(now: Date, retentionDays: number): Date {
  return addDays(now, -retentionDays);
}

/** Events per purge statement; each batch asks retention about its at most this many users. */
const BATCH = 1_000;

/**
 * One purge pass (`SecurityEventSweeper` schedules it). Security events are identity's own
 * schedule (`actsFirst: 'service'` in RETENTION_SCHEDULE): no event from retention, the
 * period alone, by the service clock. Events of a user under a legal hold stay (§12.2
 * "retain necessary data for investigation"): each batch asks retention about its
 * candidates' users first (LegalHolds.sweep), and when retention does not answer the pass
 * stops there (fails closed) — logged once until a pass runs again, and no error.
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

  /** Returns how many events were deleted (those of the batches before retention stopped answering, if it did). Each batch is one statement, so no transaction of its own. */
  async execute(): Promise<number> {
    const cutoff = securityEventCutoff(this.clock.now(), this.config.SECURITY_EVENT_RETENTION_DAYS);
    let deleted = 0;
    try {
      await this.holds.sweep({
        batchSize: BATCH,
        candidates: (heldSoFar) => this.securityEvents.purgeCandidates(cutoff, BATCH, heldSoFar),
        purge: async (cleared) => {
          const count = await this.securityEvents.deleteOlderThan(cutoff, BATCH, cleared);
          deleted += count;
          return { count, seen: count };
        },
      });
    } catch (error) {
      if (!(error instanceof LegalHoldsUnknown)) throw error;
      if (!this.holdsUnavailable) this.logger.warn({ err: error }, 'security-event purge skipped: legal holds unavailable (retention did not answer); nothing deleted until it does');
      this.holdsUnavailable = true;
      return deleted;
    }
    this.holdsUnavailable = false;
    return deleted;
  }
}

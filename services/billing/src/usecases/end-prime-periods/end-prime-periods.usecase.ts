import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PrimeStatusChangedV1 } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { BillingMetrics } from '../../billing-metrics.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';
import { unlessErased } from '../unless-erased.js';

const BATCH = 100;

/**
 * §5.4, §5.5: Prime ends when its period does, by the shared clock; PrimeStatusChanged
 * {active: false, expiresAt: the end} tells generation, chat and identity (content goes
 * back on standard retention from that date). Each end is announced once, in the
 * transaction that marks it, one user per transaction (the tombstone's lock first, as for
 * every write for a user). A period extended meanwhile is not due any more and is skipped.
 */
@Injectable()
export class EndPrimePeriods {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly prime: PrimeStatusRepository,
    private readonly outbox: EventsOutbox,
    private readonly metrics: BillingMetrics,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** One pass: announces every end that is due; returns how many. */
  async execute(): Promise<number> {
    let ended = 0;
    for (;;) {
      const now = this.clock.now();
      const due = await this.prime.findEnded(now, BATCH);
      let progress = 0;
      for (const userId of due) if (await this.end(userId, now)) progress++;
      ended += progress;
      // A full batch of which nothing could be ended would come back unchanged: stop.
      if (due.length < BATCH || progress === 0) return ended;
    }
  }

  private end(userId: string, now: Date): Promise<boolean> {
    return this.transactor.run(async () => {
      if (!(await unlessErased(this.tombstones, userId))) return false;
      const end = await this.prime.markEnded(userId, now);
      if (!end) return false;
      await this.outbox.append(PrimeStatusChangedV1, { userId, active: false, expiresAt: end.toISOString(), changedAt: now.toISOString() });
      this.metrics.primeChanges.inc({ active: 'false' });
      return true;
    });
  }
}

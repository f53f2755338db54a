import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { EventPayload, GenerationFinishedV1 } from '@homiwork/contracts';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { BillingMetrics } from '../../billing-metrics.js';
import { EnergyLedgerRepository } from '../../persistence/energy-ledger.repository.js';
import { ReservationsRepository } from '../../persistence/reservations.repository.js';
import { unlessErased } from '../unless-erased.js';

type Finished = EventPayload<typeof GenerationFinishedV1>;
export type Settlement = 'committed' | 'refunded' | 'voided' | 'unchanged';

/**
 * R4.4: GenerationFinished settles the job's reservation — `succeeded` commits it, `failed`
 * gives the energy back with a refund entry. Each step moves a reservation out of `held`
 * once, so a redelivered event changes nothing, and the ledger's unique refund entry stands
 * behind that. A `failed` for a job whose reservation never arrived (the reserve call timed
 * out, or is still in flight) leaves a `void` row, so the late reservation is refused
 * instead of charging for a job that has ended. Joins the consumer's transaction.
 */
@Injectable()
export class SettleReservation {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly reservations: ReservationsRepository,
    private readonly ledger: EnergyLedgerRepository,
    private readonly metrics: BillingMetrics,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(finished: Pick<Finished, 'userId' | 'jobId' | 'purpose' | 'outcome'>): Promise<Settlement> {
    return this.transactor.run(async () => {
      if (!(await unlessErased(this.tombstones, finished.userId))) return 'unchanged';
      const now = this.clock.now();
      if (finished.outcome === 'succeeded') return (await this.reservations.markCommitted(finished.jobId, finished.userId, finished.purpose, now)) ? 'committed' : 'unchanged';
      if (await this.refund(finished, now)) return 'refunded';
      if (await this.reservations.insertVoid({ id: finished.jobId, userId: finished.userId, purpose: finished.purpose, now })) return 'voided';
      // The insert met a reservation made concurrently and waited for it to commit; now
      // that it is visible, it is refunded like any other.
      return (await this.refund(finished, now)) ? 'refunded' : 'unchanged';
    });
  }

  private async refund(finished: Pick<Finished, 'userId' | 'jobId' | 'purpose'>, now: Date): Promise<boolean> {
    const refunded = await this.reservations.markRefunded(finished.jobId, finished.userId, finished.purpose, now);
    if (!refunded) return false;
    if (refunded.amount > 0) {
      await this.ledger.credit(finished.userId, refunded.amount, 'refund', { reservationId: finished.jobId }, now);
      this.metrics.energy.inc({ reason: 'refund' }, refunded.amount);
    }
    return true;
  }
}

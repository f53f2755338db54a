import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { BillingMetrics } from '../../billing-metrics.js';
import { BillingConfig } from '../../config.js';
import { EnergyLedgerRepository } from '../../persistence/energy-ledger.repository.js';
import { unlessErased } from '../unless-erased.js';

/**
 * R6.1: a new account's energy (ENERGY_SIGNUP_GRANT), on UserRegistered, exactly once per
 * user — the ledger's unique signup entry makes a redelivered event, or a second
 * registration event for the same id, change nothing. Joins the consumer's transaction.
 */
@Injectable()
export class GrantSignupEnergy {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly ledger: EnergyLedgerRepository,
    private readonly metrics: BillingMetrics,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** True when the grant was made now; false when made before, switched off, or the user is erased. */
  execute(userId: string): Promise<boolean> {
    const grant = this.config.ENERGY_SIGNUP_GRANT;
    if (grant === 0) return Promise.resolve(false);
    return this.transactor.run(async () => {
      if (!(await unlessErased(this.tombstones, userId))) return false;
      const granted = (await this.ledger.credit(userId, grant, 'signup', {}, this.clock.now())) !== null;
      if (granted) this.metrics.energy.inc({ reason: 'signup' }, grant);
      return granted;
    });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { BillingConfig } from '../../config.js';
import { EndPrimePeriods } from './end-prime-periods.usecase.js';

/** Announces the Prime periods that ended, every PRIME_SWEEP_INTERVAL_MS. */
@Injectable()
export class PrimeSweeper extends PeriodicSweeper {
  constructor(
    private readonly endPrimePeriods: EndPrimePeriods,
    @Inject(LOGGER) logger: Logger,
    @Inject(BillingConfig) config: BillingConfig,
  ) {
    super(logger, config.PRIME_SWEEP_INTERVAL_MS, 'prime end sweep');
  }

  protected run(): Promise<number> {
    return this.endPrimePeriods.execute();
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { BillingConfig } from '../../config.js';
import { PurgeTransactionRecords } from './purge-transaction-records.usecase.js';

/** Deletes transaction records past their retention (§5.7) every TRANSACTION_SWEEP_INTERVAL_MS. */
@Injectable()
export class TransactionRecordsSweeper extends PeriodicSweeper {
  constructor(
    private readonly purge: PurgeTransactionRecords,
    @Inject(LOGGER) logger: Logger,
    @Inject(BillingConfig) config: BillingConfig,
  ) {
    super(logger, config.TRANSACTION_SWEEP_INTERVAL_MS, 'transaction-record purge');
  }

  protected run(): Promise<number> {
    return this.purge.execute();
  }
}

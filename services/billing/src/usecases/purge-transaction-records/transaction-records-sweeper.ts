import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { BillingConfig } from '../../config.js';
import { ExpirePendingOrders } from '../expire-pending-orders/expire-pending-orders.usecase.js';
import { PurgeTransactionRecords } from './purge-transaction-records.usecase.js';

/**
 * Every TRANSACTION_SWEEP_INTERVAL_MS: pending orders past their time lapse, then orders
 * past their retention (§5.7; unpaid ones sooner) are deleted — in that order, so a lapse
 * starts its order's short retention in the same pass.
 */
@Injectable()
export class TransactionRecordsSweeper extends PeriodicSweeper {
  constructor(
    private readonly expire: ExpirePendingOrders,
    private readonly purge: PurgeTransactionRecords,
    @Inject(LOGGER) logger: Logger,
    @Inject(BillingConfig) config: BillingConfig,
  ) {
    super(logger, config.TRANSACTION_SWEEP_INTERVAL_MS, 'order lapse and transaction-record purge');
  }

  protected async run(): Promise<number> {
    const expired = await this.expire.execute();
    return expired + (await this.purge.execute());
  }
}

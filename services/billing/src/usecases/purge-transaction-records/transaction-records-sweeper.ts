import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LegalHolds, LegalHoldsUnknown, LOGGER, PeriodicSweeper } from '@homiwork/service-kit';
import { BillingConfig } from '../../config.js';
import { ExpirePendingOrders } from '../expire-pending-orders/expire-pending-orders.usecase.js';
import { PurgeTransactionRecords } from './purge-transaction-records.usecase.js';

/**
 * Every TRANSACTION_SWEEP_INTERVAL_MS: pending orders past their time lapse, then orders
 * past their retention (§5.7; unpaid ones sooner) are deleted — in that order, so a lapse
 * starts its order's short retention in the same pass. Each batch of the purge asks
 * retention which of its candidates' owners are under a legal hold and leaves their
 * orders; when retention does not answer, the purge stops there this round (fails closed)
 * — the lapse, which deletes nothing, still runs.
 */
@Injectable()
export class TransactionRecordsSweeper extends PeriodicSweeper {
  constructor(
    private readonly expire: ExpirePendingOrders,
    private readonly purge: PurgeTransactionRecords,
    private readonly holds: LegalHolds,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(BillingConfig) config: BillingConfig,
  ) {
    super(log, config.TRANSACTION_SWEEP_INTERVAL_MS, 'order lapse and transaction-record purge');
  }

  protected async run(): Promise<number> {
    const expired = await this.expire.execute();
    try {
      return expired + (await this.purge.execute(this.holds));
    } catch (error) {
      if (!(error instanceof LegalHoldsUnknown)) throw error;
      this.log.warn({ err: error }, 'legal holds unknown (retention did not answer): the transaction-record purge skips this round');
      return expired;
    }
  }
}

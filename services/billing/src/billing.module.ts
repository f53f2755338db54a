import { Module, type DynamicModule } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { BillingHandlers } from './billing.handlers.js';
import { BillingMetrics } from './billing-metrics.js';
import { BillingConfig } from './config.js';
import { BILLING_MIGRATIONS } from './migrations/index.js';
import { EnergyLedgerRepository } from './persistence/energy-ledger.repository.js';
import { OrdersRepository } from './persistence/orders.repository.js';
import { PrimeStatusRepository } from './persistence/prime-status.repository.js';
import { ReservationsRepository } from './persistence/reservations.repository.js';
import { WebhookEventsRepository } from './persistence/webhook-events.repository.js';
import { LocalPaymentProcessor } from './processors/local-processor.js';
import { PaymentProcessor } from './processors/payment-processor.js';
import { WebhookPaymentProcessor } from './processors/webhook-processor.js';
import { CompleteCheckout } from './usecases/complete-checkout/complete-checkout.usecase.js';
import { CreateOrder } from './usecases/create-order/create-order.usecase.js';
import { EndPrimePeriods } from './usecases/end-prime-periods/end-prime-periods.usecase.js';
import { ExpirePendingOrders } from './usecases/expire-pending-orders/expire-pending-orders.usecase.js';
import { ExportSliceRepository } from './usecases/export-slice/export-slice.repository.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { PrimeSweeper } from './usecases/end-prime-periods/prime-sweeper.js';
import { GetBalance } from './usecases/get-balance/get-balance.usecase.js';
import { GetCheckout } from './usecases/get-checkout/get-checkout.usecase.js';
import { GrantSignupEnergy } from './usecases/grant-signup-energy/grant-signup-energy.usecase.js';
import { ListProducts } from './usecases/list-products/list-products.usecase.js';
import { ListTransactions } from './usecases/list-transactions/list-transactions.usecase.js';
import { PurgeTransactionRecords } from './usecases/purge-transaction-records/purge-transaction-records.usecase.js';
import { TransactionRecordsSweeper } from './usecases/purge-transaction-records/transaction-records-sweeper.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { ReceiveWebhook } from './usecases/receive-webhook/receive-webhook.usecase.js';
import { ReserveEnergy } from './usecases/reserve-energy/reserve-energy.usecase.js';
import { SettleReservation } from './usecases/settle-reservation/settle-reservation.usecase.js';

export const BILLING_USE_CASES = [
  GetBalance,
  ReserveEnergy,
  SettleReservation,
  GrantSignupEnergy,
  ListProducts,
  CreateOrder,
  ListTransactions,
  ReceiveWebhook,
  GetCheckout,
  CompleteCheckout,
  EndPrimePeriods,
  PurgeUser,
  ExpirePendingOrders,
  PurgeTransactionRecords,
];

/** The configured processor: `local` in development, the generic signed-webhook one otherwise. */
export function paymentProcessorFor(config: BillingConfig, clock: Clock): PaymentProcessor {
  return config.PAYMENT_PROCESSOR === 'local' ? new LocalPaymentProcessor(config, clock) : new WebhookPaymentProcessor(config);
}

@Module({})
export class BillingModule {
  static forRoot(config: BillingConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: BillingModule,
      imports: [ServiceKitModule.forRoot({ service: 'billing', config, migrations: [...BILLING_MIGRATIONS], ...overrides })],
      providers: [
        { provide: BillingConfig, useValue: config },
        { provide: PaymentProcessor, inject: [Clock], useFactory: (clock: Clock) => paymentProcessorFor(config, clock) },
        BillingMetrics,
        EnergyLedgerRepository,
        ReservationsRepository,
        OrdersRepository,
        WebhookEventsRepository,
        PrimeStatusRepository,
        ...BILLING_USE_CASES,
        PrimeSweeper,
        TransactionRecordsSweeper,
        ExportSliceRepository,
        ExportSlice,
        BillingHandlers,
      ],
    };
  }
}

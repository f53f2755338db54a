import { Injectable } from '@nestjs/common';
import { BillingConsumers, BillingRpc, exportSliceRoute, GenerationFinishedV1, UserDeletedV1, type CallerContext, type EventPayload, type ExportSlicePage, type RpcRequest, type RpcResponse, type UserRegisteredV1 } from '@homiwork/contracts';
import type { EventContext } from '@homiwork/messaging';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { CompleteCheckout } from './usecases/complete-checkout/complete-checkout.usecase.js';
import { CreateOrder } from './usecases/create-order/create-order.usecase.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { GetBalance } from './usecases/get-balance/get-balance.usecase.js';
import { GetCheckout } from './usecases/get-checkout/get-checkout.usecase.js';
import { GrantSignupEnergy } from './usecases/grant-signup-energy/grant-signup-energy.usecase.js';
import { ListProducts } from './usecases/list-products/list-products.usecase.js';
import { ListTransactions } from './usecases/list-transactions/list-transactions.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { ReceiveWebhook } from './usecases/receive-webhook/receive-webhook.usecase.js';
import { ReserveEnergy } from './usecases/reserve-energy/reserve-energy.usecase.js';
import { SettleReservation } from './usecases/settle-reservation/settle-reservation.usecase.js';

/**
 * Billing's request/reply routes and event handlers: each hands over to one use case.
 * Event handlers run inside the consumer's transaction, which the use cases join.
 */
@Injectable()
export class BillingHandlers {
  constructor(
    private readonly getBalance: GetBalance,
    private readonly reserveEnergy: ReserveEnergy,
    private readonly listProducts: ListProducts,
    private readonly createOrder: CreateOrder,
    private readonly listTransactions: ListTransactions,
    private readonly receiveWebhook: ReceiveWebhook,
    private readonly getCheckout: GetCheckout,
    private readonly completeCheckout: CompleteCheckout,
    private readonly grantSignupEnergy: GrantSignupEnergy,
    private readonly settleReservation: SettleReservation,
    private readonly purgeUser: PurgeUser,
    private readonly exportSlice: ExportSlice,
  ) {}

  @OnRpc(BillingRpc.GetBalanceRoute)
  balance(_request: unknown, caller: CallerContext): Promise<RpcResponse<typeof BillingRpc.GetBalanceRoute>> {
    return this.getBalance.execute(caller);
  }

  /** Service-to-service (generation, chat): the user is named in the request, not by a caller token. */
  @OnRpc(BillingRpc.ReserveEnergyRoute)
  reserve(request: RpcRequest<typeof BillingRpc.ReserveEnergyRoute>): Promise<RpcResponse<typeof BillingRpc.ReserveEnergyRoute>> {
    return this.reserveEnergy.execute(request);
  }

  @OnRpc(BillingRpc.ListProductsRoute)
  products(): Promise<RpcResponse<typeof BillingRpc.ListProductsRoute>> {
    return Promise.resolve(this.listProducts.execute());
  }

  @OnRpc(BillingRpc.CreateOrderRoute)
  order(request: RpcRequest<typeof BillingRpc.CreateOrderRoute>, caller: CallerContext): Promise<RpcResponse<typeof BillingRpc.CreateOrderRoute>> {
    return this.createOrder.execute(request, caller);
  }

  @OnRpc(BillingRpc.ListTransactionsRoute)
  transactions(_request: unknown, caller: CallerContext): Promise<RpcResponse<typeof BillingRpc.ListTransactionsRoute>> {
    return this.listTransactions.execute(caller);
  }

  @OnRpc(BillingRpc.ReceiveWebhookRoute)
  webhook(request: RpcRequest<typeof BillingRpc.ReceiveWebhookRoute>): Promise<RpcResponse<typeof BillingRpc.ReceiveWebhookRoute>> {
    return this.receiveWebhook.execute(request);
  }

  @OnRpc(BillingRpc.GetCheckoutRoute)
  checkout(request: RpcRequest<typeof BillingRpc.GetCheckoutRoute>): Promise<RpcResponse<typeof BillingRpc.GetCheckoutRoute>> {
    return this.getCheckout.execute(request.orderId);
  }

  @OnRpc(BillingRpc.CompleteCheckoutRoute)
  completeCheckoutRoute(request: RpcRequest<typeof BillingRpc.CompleteCheckoutRoute>): Promise<RpcResponse<typeof BillingRpc.CompleteCheckoutRoute>> {
    return this.completeCheckout.execute(request);
  }

  /** R7.1, retention only: one page of the user's balance, ledger, reservations, orders and Prime status for the export archive. */
  @OnRpc(exportSliceRoute('billing'))
  exportSlicePage(request: RpcRequest<ReturnType<typeof exportSliceRoute<'billing'>>>): Promise<ExportSlicePage> {
    return this.exportSlice.execute(request);
  }

  @OnEvent(BillingConsumers.userRegistered)
  async userRegistered(payload: EventPayload<typeof UserRegisteredV1>): Promise<void> {
    await this.grantSignupEnergy.execute(payload.userId);
  }

  /** R4.4: commit on success, refund on failure; a redelivery changes nothing. */
  @OnEvent(BillingConsumers.generationFinished)
  async generationFinished(payload: EventPayload<typeof GenerationFinishedV1>): Promise<void> {
    await this.settleReservation.execute(payload);
  }

  /** R1.5: the user's data goes and a tombstone stays. The message id is the receipt's trigger: stable across redeliveries. */
  @OnEvent(BillingConsumers.userDeleted)
  userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    return this.purgeUser.execute(payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }
}

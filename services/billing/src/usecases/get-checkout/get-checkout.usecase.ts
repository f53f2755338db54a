import { Inject, Injectable } from '@nestjs/common';
import type { BillingRpc, RpcResponse } from '@homiwork/contracts';
import { BillingErrors } from '../../billing-errors.js';
import { BillingConfig } from '../../config.js';
import { OrdersRepository } from '../../persistence/orders.repository.js';
import { LocalPaymentProcessor } from '../../processors/local-processor.js';
import { PaymentProcessor } from '../../processors/payment-processor.js';

/**
 * The local processor's checkout page (development only): what the order is. Public, as a
 * processor's page is: the order id (random) is the only key, and the answer names the
 * product and the price, nothing about the buyer.
 */
@Injectable()
export class GetCheckout {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly processor: PaymentProcessor,
    @Inject(BillingConfig) private readonly config: BillingConfig,
  ) {}

  async execute(orderId: string): Promise<RpcResponse<typeof BillingRpc.GetCheckoutRoute>> {
    if (!(this.processor instanceof LocalPaymentProcessor)) throw BillingErrors.localProcessorOnly();
    const order = await this.orders.find(orderId);
    if (!order || order.processor !== this.processor.provider) throw BillingErrors.orderNotFound();
    const product = this.config.BILLING_PRODUCTS.find((candidate) => candidate.id === order.productId);
    return { orderId: order.id, productName: product?.name ?? order.productId, amount: order.amount, currency: order.currency, status: order.status };
  }
}

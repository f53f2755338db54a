import { Injectable } from '@nestjs/common';
import type { BillingRpc, RpcRequest, RpcResponse } from '@homiwork/contracts';
import { BillingErrors } from '../../billing-errors.js';
import { OrdersRepository } from '../../persistence/orders.repository.js';
import { LocalPaymentProcessor } from '../../processors/local-processor.js';
import { PaymentProcessor, ProcessorUnavailable } from '../../processors/payment-processor.js';

/**
 * The local processor's confirm / cancel buttons. Nothing is changed here directly: the
 * local processor calls the public webhook over HTTP, signed, as an outside processor
 * would, and the order changes when that notification is applied. The answer is the
 * order's status afterwards.
 */
@Injectable()
export class CompleteCheckout {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly processor: PaymentProcessor,
  ) {}

  async execute(input: RpcRequest<typeof BillingRpc.CompleteCheckoutRoute>): Promise<RpcResponse<typeof BillingRpc.CompleteCheckoutRoute>> {
    const processor = this.processor;
    if (!(processor instanceof LocalPaymentProcessor)) throw BillingErrors.localProcessorOnly();
    const order = await this.orders.find(input.orderId);
    if (!order || order.processor !== processor.provider) throw BillingErrors.orderNotFound();
    if (order.status !== 'pending') throw BillingErrors.orderNotPending();
    try {
      await processor.notify({ orderId: order.id, amount: order.amount, currency: order.currency }, input.action === 'confirm' ? 'succeeded' : 'cancelled');
    } catch (error) {
      if (error instanceof ProcessorUnavailable) throw BillingErrors.processorUnavailable();
      throw error;
    }
    const after = await this.orders.find(order.id);
    return { orderId: order.id, status: after?.status ?? order.status };
  }
}

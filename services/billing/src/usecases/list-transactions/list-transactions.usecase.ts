import { Injectable } from '@nestjs/common';
import type { BillingRpc, CallerContext } from '@homiwork/contracts';
import { BillingErrors } from '../../billing-errors.js';
import { OrdersRepository, type OrderRecord } from '../../persistence/orders.repository.js';

const MAX_LISTED = 500;

/** The caller's orders, newest first: what was bought, for how much, and what became of it. */
@Injectable()
export class ListTransactions {
  constructor(private readonly orders: OrdersRepository) {}

  async execute(caller: CallerContext): Promise<{ items: BillingRpc.Transaction[] }> {
    if (!caller.userId) throw BillingErrors.unauthenticated();
    return { items: (await this.orders.listOfUser(caller.userId, MAX_LISTED)).map(toTransaction) };
  }
}

function toTransaction(order: OrderRecord): BillingRpc.Transaction {
  return {
    orderId: order.id,
    productId: order.productId,
    kind: order.kind,
    amount: order.amount,
    currency: order.currency,
    status: order.status,
    createdAt: order.createdAt.toISOString(),
    paidAt: order.paidAt?.toISOString() ?? null,
  };
}

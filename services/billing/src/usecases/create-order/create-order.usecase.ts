import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { IdentityRpc, type BillingRpc, type CallerContext, type RpcRequest, type RpcResponse } from '@homiwork/contracts';
import { RpcClient, RpcError } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { BillingErrors } from '../../billing-errors.js';
import { BillingMetrics } from '../../billing-metrics.js';
import { BillingConfig } from '../../config.js';
import { OrdersRepository } from '../../persistence/orders.repository.js';
import { PaymentProcessor, ProcessorUnavailable } from '../../processors/payment-processor.js';
import { retainUntil } from '../transaction-retention.js';

type Input = RpcRequest<typeof BillingRpc.CreateOrderRoute>;
type Output = RpcResponse<typeof BillingRpc.CreateOrderRoute>;

/**
 * R6.2, §7.1: an order for a product, and a checkout at the processor. The processor is
 * given the amount, the currency, the order id and the buyer's email — nothing else. The
 * email comes from identity for this one call and is kept nowhere (not on the order, not
 * in a log line). A processor that cannot be reached leaves the order `failed` (a record
 * of the attempt) and answers 503.
 */
@Injectable()
export class CreateOrder {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly orders: OrdersRepository,
    private readonly processor: PaymentProcessor,
    private readonly rpc: RpcClient,
    private readonly metrics: BillingMetrics,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(input: Input, caller: CallerContext): Promise<Output> {
    const userId = caller.userId;
    if (!userId) throw BillingErrors.unauthenticated();
    const product = this.config.BILLING_PRODUCTS.find((candidate) => candidate.id === input.productId);
    if (!product) throw BillingErrors.productNotFound();
    if (await this.tombstones.isErased(userId)) throw BillingErrors.accountDeleted();
    const email = await this.emailOf(userId, caller.requestId);
    const orderId = randomUUID();
    const createdAt = this.clock.now();
    try {
      await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        await this.orders.insert({
          id: orderId,
          userId,
          productId: product.id,
          kind: product.kind,
          energy: product.energy ?? null,
          primeDays: product.primeDays ?? null,
          amount: product.amount,
          currency: product.currency,
          status: 'pending',
          processor: this.processor.provider,
          createdAt,
          retainUntil: retainUntil(createdAt, this.config.TRANSACTION_RETENTION_YEARS),
        });
      });
    } catch (error) {
      if (error instanceof UserErased) throw BillingErrors.accountDeleted();
      throw error;
    }
    let checkoutUrl: string;
    try {
      ({ checkoutUrl } = await this.processor.createCheckout({ orderId, amount: product.amount, currency: product.currency, email }));
    } catch (error) {
      if (!(error instanceof ProcessorUnavailable)) throw error;
      await this.orders.endPending(orderId, 'failed', this.clock.now());
      this.metrics.orders.inc({ kind: product.kind, outcome: 'processor_unavailable' });
      this.logger.warn({ err: error, orderId }, 'payment processor unavailable; order failed');
      throw BillingErrors.processorUnavailable();
    }
    this.metrics.orders.inc({ kind: product.kind, outcome: 'created' });
    return { orderId, amount: product.amount, currency: product.currency, checkoutUrl };
  }

  private async emailOf(userId: string, requestId: string): Promise<string> {
    try {
      return (await this.rpc.call(IdentityRpc.GetIdentifiersRoute, { userId }, { requestId })).email;
    } catch (error) {
      if (error instanceof RpcError && error.status === 404) throw BillingErrors.accountDeleted();
      if (error instanceof RpcError && error.status >= 500) throw new RpcError(503, 'service_unavailable', 'billing cannot reach the account service; try again shortly', 5);
      throw error;
    }
  }
}

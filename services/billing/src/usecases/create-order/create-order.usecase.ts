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
import { OrdersRepository, type OrderRecord } from '../../persistence/orders.repository.js';
import { PaymentProcessor, ProcessorUnavailable } from '../../processors/payment-processor.js';
import { pendingCutoff } from '../expire-pending-orders/expire-pending-orders.usecase.js';
import { retainUntil } from '../transaction-retention.js';

type Input = RpcRequest<typeof BillingRpc.CreateOrderRoute>;
type Output = RpcResponse<typeof BillingRpc.CreateOrderRoute>;
type Product = BillingConfig['BILLING_PRODUCTS'][number];

// How long a pending order without its checkout is taken to be still opening it (the
// processor's time limit, and some slack); after that, its request died on the way.
const CHECKOUT_SLACK_MS = 5_000;

/**
 * R6.2, §7.1: an order for a product, and a checkout at the processor. The processor is
 * given the amount, the currency, the order id and the buyer's email — nothing else. The
 * email comes from identity for this one call and is kept nowhere (not on the order, not
 * in a log line); identity's answer also names the username, which is dropped at once. A
 * processor that cannot be reached leaves the order `failed` (a record of the attempt)
 * and answers 503.
 *
 * Open orders are bounded, so that nobody can make billing keep rows and send their email
 * to the processor without end: the buyer's pending order of the same product is answered
 * again (same order, same checkout — no second order, no call to identity or the
 * processor); at most MAX_OPEN_ORDERS_PER_USER are pending at once (409
 * `too_many_open_orders`); pending ones lapse after PENDING_ORDER_TTL_HOURS. The decision is
 * taken under a per-user lock, with a unique index (one pending order per user and
 * product) behind it; a second request while the first is still opening its checkout is
 * answered 409 `order_in_progress` (ask again in a moment).
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
    // Answered without asking identity for the email when it is not needed; the locked
    // decision below is the one that counts.
    const since = pendingCutoff(this.clock.now(), this.config);
    const open = await this.orders.findOpen(userId, product.id, since);
    if (open?.checkoutUrl) return this.answeredAgain(open, open.checkoutUrl);
    if (open && this.stillOpening(open, this.clock.now())) throw this.inProgress(product);
    if (!open && (await this.orders.countOpenOf(userId, since)) >= this.config.MAX_OPEN_ORDERS_PER_USER) throw this.tooManyOpen(product);
    const email = await this.emailOf(userId, caller.requestId);
    const orderId = randomUUID();
    const createdAt = this.clock.now();
    let existing: OrderRecord | undefined;
    try {
      existing = await this.transactor.run(() => this.place(userId, product, orderId, createdAt));
    } catch (error) {
      if (error instanceof UserErased) throw BillingErrors.accountDeleted();
      throw error;
    }
    if (existing) return this.answeredAgain(existing, existing.checkoutUrl!);
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
    await this.orders.setCheckoutUrl(orderId, checkoutUrl);
    this.metrics.orders.inc({ kind: product.kind, outcome: 'created' });
    return { orderId, amount: product.amount, currency: product.currency, checkoutUrl };
  }

  /**
   * Under the user's order lock: lapses the user's pending orders past their time, then
   * answers the open order of this product if it has its checkout, refuses one over the
   * limit, or records the new order (undefined: go and open its checkout).
   */
  private async place(userId: string, product: Product, orderId: string, createdAt: Date): Promise<OrderRecord | undefined> {
    await this.tombstones.guard(userId);
    await this.orders.lockOrdersOf(userId);
    const since = pendingCutoff(createdAt, this.config);
    for (const kind of await this.orders.cancelPendingPlacedBefore(since, createdAt, { userId })) this.metrics.orders.inc({ kind, outcome: 'expired' });
    const open = await this.orders.findOpen(userId, product.id, since);
    if (open?.checkoutUrl) return open;
    if (open) {
      if (this.stillOpening(open, createdAt)) throw this.inProgress(product);
      // Its checkout request never came back (the service stopped on the way): that attempt failed.
      await this.orders.endPending(open.id, 'failed', createdAt);
    }
    if ((await this.orders.countOpenOf(userId, since)) >= this.config.MAX_OPEN_ORDERS_PER_USER) throw this.tooManyOpen(product);
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
    return undefined;
  }

  private answeredAgain(order: OrderRecord, checkoutUrl: string): Output {
    this.metrics.orders.inc({ kind: order.kind, outcome: 'answered_again' });
    return { orderId: order.id, amount: order.amount, currency: order.currency, checkoutUrl };
  }

  /** A pending order without its checkout, young enough that its request to the processor may still be under way. */
  private stillOpening(order: OrderRecord, now: Date): boolean {
    return now.getTime() - order.createdAt.getTime() < this.config.PAYMENT_PROCESSOR_TIMEOUT_MS + CHECKOUT_SLACK_MS;
  }

  private inProgress(product: Product): Error {
    this.metrics.orders.inc({ kind: product.kind, outcome: 'in_progress' });
    return BillingErrors.orderInProgress();
  }

  private tooManyOpen(product: Product): Error {
    this.metrics.orders.inc({ kind: product.kind, outcome: 'too_many_open' });
    return BillingErrors.tooManyOpenOrders(this.config.MAX_OPEN_ORDERS_PER_USER, this.config.PENDING_ORDER_TTL_HOURS);
  }

  /** Only the email is taken from identity's answer; the rest of it (the username) is dropped here. */
  private async emailOf(userId: string, requestId: string): Promise<string> {
    try {
      const { email } = await this.rpc.call(IdentityRpc.GetIdentifiersRoute, { userId }, { requestId });
      return email;
    } catch (error) {
      if (error instanceof RpcError && error.status === 404) throw BillingErrors.accountDeleted();
      if (error instanceof RpcError && error.status >= 500) throw new RpcError(503, 'service_unavailable', 'billing cannot reach the account service; try again shortly', 5);
      throw error;
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PrimeStatusChangedV1, type BillingRpc, type RpcRequest } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { BillingErrors } from '../../billing-errors.js';
import { BillingMetrics } from '../../billing-metrics.js';
import { BillingConfig } from '../../config.js';
import { EnergyLedgerRepository } from '../../persistence/energy-ledger.repository.js';
import { OrdersRepository, type OrderRecord } from '../../persistence/orders.repository.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';
import { WebhookEventsRepository } from '../../persistence/webhook-events.repository.js';
import { PaymentProcessor } from '../../processors/payment-processor.js';
import { containsCardData } from '../../webhooks/card-data.js';
import { parseWebhookEvent, type WebhookEvent } from '../../webhooks/webhook-event.js';
import { verifyWebhookSignature } from '../../webhooks/webhook-signature.js';
import { unlessErased } from '../unless-erased.js';
import { retainUntil } from '../transaction-retention.js';

type Input = RpcRequest<typeof BillingRpc.ReceiveWebhookRoute>;

/**
 * R6.2: a payment processor's notification. In this order:
 *
 * 1. §2.1.5 card data — before anything else reads the body: a body carrying any is
 *    refused with 422, and nothing of it is kept (no row, no log line, no echo).
 * 2. The provider must be the configured processor's (404 otherwise).
 * 3. The signature: HMAC-SHA256 over `t.body`, compared in constant time, `t` within
 *    ±300 s of the service clock (401 `invalid_signature`).
 * 4. The body's shape, and that amount and currency are the order's (400 `invalid_webhook`).
 * 5. In one transaction: the event id is recorded (a replay stops here, answered 200) and
 *    the effect applied. Any order of arrival: `paid` is final (a cancel or failure after
 *    it changes nothing; a success after a cancel still marks the order paid and credits
 *    it, because the money was taken); the credit happens once per order, by the order's
 *    locked status and the ledger's unique purchase entry.
 */
@Injectable()
export class ReceiveWebhook {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly webhookEvents: WebhookEventsRepository,
    private readonly orders: OrdersRepository,
    private readonly ledger: EnergyLedgerRepository,
    private readonly prime: PrimeStatusRepository,
    private readonly outbox: EventsOutbox,
    private readonly processor: PaymentProcessor,
    private readonly metrics: BillingMetrics,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(input: Input): Promise<{ received: boolean }> {
    const provider = this.processor.provider;
    if (containsCardData(input.body)) {
      this.metrics.webhooks.inc({ provider: input.provider === provider ? provider : 'unknown', outcome: 'card_data' });
      throw BillingErrors.cardDataRefused();
    }
    if (input.provider !== provider) {
      this.metrics.webhooks.inc({ provider: 'unknown', outcome: 'unknown_provider' });
      throw BillingErrors.unknownProvider();
    }
    const signature = verifyWebhookSignature(this.config.PAYMENT_WEBHOOK_SECRET, input.body, input.signature, Math.floor(this.clock.nowMs() / 1000));
    if (!signature.ok) {
      this.metrics.webhooks.inc({ provider, outcome: 'bad_signature' });
      throw BillingErrors.invalidSignature(signature.why === 'stale' ? 'outside the ±300 s window' : signature.why);
    }
    const parsed = parseWebhookEvent(input.body);
    if (!parsed.ok) {
      this.metrics.webhooks.inc({ provider, outcome: 'invalid' });
      throw BillingErrors.invalidWebhook(parsed.why);
    }
    try {
      const outcome = await this.transactor.run(() => this.apply(provider, parsed.event));
      this.metrics.webhooks.inc({ provider, outcome });
      return { received: true };
    } catch (error) {
      if ((error as { code?: string }).code === 'invalid_webhook') this.metrics.webhooks.inc({ provider, outcome: 'invalid' });
      throw error;
    }
  }

  private async apply(provider: string, event: WebhookEvent): Promise<'applied' | 'replayed'> {
    const now = this.clock.now();
    if (!(await this.webhookEvents.recordOnce(provider, event.id, now))) return 'replayed';
    const seen = await this.orders.find(event.orderId);
    if (!seen || seen.processor !== provider) throw BillingErrors.invalidWebhook('orderId: no such order');
    // The tombstone's shared lock before the order's row lock: the purge takes them in
    // that order too (tombstone, then the orders), so the two never wait on each other.
    const linked = seen.userId !== null && (await unlessErased(this.tombstones, seen.userId));
    const order = await this.orders.findForUpdate(event.orderId);
    // Deleted meanwhile by the retention sweep (it skips rows a webhook holds, not the other way round).
    if (!order) throw BillingErrors.invalidWebhook('orderId: no such order');
    if (order.amount !== event.amount || order.currency !== event.currency) throw BillingErrors.invalidWebhook('amount and currency must be the order’s');
    switch (event.type) {
      case 'payment.succeeded':
        if (order.status !== 'paid') await this.paid(order, event.transactionId!, linked && order.userId !== null, now);
        break;
      case 'payment.failed':
        if (await this.orders.endPending(order.id, 'failed', now)) this.metrics.orders.inc({ kind: order.kind, outcome: 'failed' });
        break;
      case 'payment.cancelled':
        if (await this.orders.endPending(order.id, 'cancelled', now)) this.metrics.orders.inc({ kind: order.kind, outcome: 'cancelled' });
        break;
    }
    return 'applied';
  }

  private async paid(order: OrderRecord, transactionId: string, linked: boolean, now: Date): Promise<void> {
    await this.orders.markPaid(order.id, transactionId, now, retainUntil(now, this.config.TRANSACTION_RETENTION_YEARS));
    this.metrics.orders.inc({ kind: order.kind, outcome: 'paid' });
    if (!linked) {
      // The account was erased while the payment was open: the record stays (money was
      // taken), with nobody to credit. The operator refunds it at the processor.
      this.logger.warn({ orderId: order.id }, 'payment for an order whose account was erased: recorded, nothing credited; refund it at the processor');
      return;
    }
    const userId = order.userId!;
    if (order.kind === 'energy') {
      if ((await this.ledger.credit(userId, order.energy!, 'purchase', { orderId: order.id }, now)) !== null) this.metrics.energy.inc({ reason: 'purchase' }, order.energy!);
      return;
    }
    const expiresAt = await this.prime.extend(userId, order.primeDays!, now);
    await this.outbox.append(PrimeStatusChangedV1, { userId, active: true, expiresAt: expiresAt.toISOString(), changedAt: now.toISOString() });
    this.metrics.primeChanges.inc({ active: 'true' });
  }
}

import { randomUUID } from 'node:crypto';
import { type Clock } from '@homiwork/clock';
import type { BillingConfig } from '../config.js';
import { signWebhook } from '../webhooks/webhook-signature.js';
import type { WebhookEvent } from '../webhooks/webhook-event.js';
import { PaymentProcessor, ProcessorUnavailable, type CheckoutRequest } from './payment-processor.js';

/**
 * The development processor: its checkout page is the gateway's GET /v1/billing/checkout/:id,
 * and once the buyer confirms or cancels there it notifies billing exactly as an outside
 * processor would — a signed POST to the public webhook route, with its own event id,
 * timestamp and HMAC — so the whole webhook path is exercised in development. It takes
 * no money and sees no card. Refused in production by the config.
 */
export class LocalPaymentProcessor extends PaymentProcessor {
  readonly provider = 'local';
  private readonly apiUrl: string;

  constructor(
    private readonly config: Pick<BillingConfig, 'PUBLIC_API_URL' | 'PAYMENT_WEBHOOK_SECRET' | 'PAYMENT_PROCESSOR_TIMEOUT_MS'>,
    private readonly clock: Clock,
  ) {
    super();
    this.apiUrl = config.PUBLIC_API_URL.replace(/\/+$/, '');
  }

  createCheckout(request: CheckoutRequest): Promise<{ checkoutUrl: string }> {
    // The email is not needed by a processor that takes no money; it is not kept either.
    return Promise.resolve({ checkoutUrl: `${this.apiUrl}/v1/billing/checkout/${request.orderId}` });
  }

  /** The buyer's decision on the checkout page, told to billing through the webhook. */
  async notify(order: { orderId: string; amount: number; currency: string }, outcome: 'succeeded' | 'cancelled'): Promise<void> {
    const event: WebhookEvent = {
      id: `evt_local_${randomUUID()}`,
      type: `payment.${outcome}`,
      orderId: order.orderId,
      ...(outcome === 'succeeded' ? { transactionId: `txn_local_${randomUUID()}` } : {}),
      amount: order.amount,
      currency: order.currency,
      occurredAt: this.clock.now().toISOString(),
    };
    const body = JSON.stringify(event);
    let response: Response;
    try {
      response = await fetch(`${this.apiUrl}/v1/billing/webhooks/${this.provider}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'processor-signature': signWebhook(this.config.PAYMENT_WEBHOOK_SECRET, body, Math.floor(this.clock.nowMs() / 1000)) },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.config.PAYMENT_PROCESSOR_TIMEOUT_MS),
      });
    } catch (error) {
      throw new ProcessorUnavailable(`the webhook could not be delivered: ${(error as Error).name}`);
    }
    await response.body?.cancel();
    if (!response.ok) throw new ProcessorUnavailable(`the webhook was answered ${response.status}`);
  }
}

import { createHmac, randomUUID } from 'node:crypto';

export type PaymentEventType = 'payment.succeeded' | 'payment.failed' | 'payment.cancelled';

/** The generic processor's webhook body (billing's documented format). */
export interface PaymentEvent {
  id: string;
  type: PaymentEventType;
  orderId: string;
  transactionId?: string;
  amount: number;
  currency: string;
  occurredAt: string;
}

export function paymentEvent(order: { orderId: string; amount: number; currency: string }, type: PaymentEventType, at: Date, overrides: Partial<PaymentEvent> = {}): PaymentEvent {
  return {
    id: `evt_${randomUUID()}`,
    type,
    orderId: order.orderId,
    ...(type === 'payment.succeeded' ? { transactionId: `txn_${randomUUID()}` } : {}),
    amount: order.amount,
    currency: order.currency,
    occurredAt: at.toISOString(),
    ...overrides,
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, as the processor signs. */
export function signature(secret: string, rawBody: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export interface WebhookAnswer {
  status: number;
  text: string;
  body: { received?: boolean; error?: { code: string; message: string } } | undefined;
}

/** Posts the raw bytes as the processor would; `signatureHeader` undefined sends none. */
export async function postWebhook(gateway: string, provider: string, rawBody: string, signatureHeader: string | undefined): Promise<WebhookAnswer> {
  const response = await fetch(`${gateway}/v1/billing/webhooks/${provider}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signatureHeader !== undefined ? { 'processor-signature': signatureHeader } : {}) },
    body: rawBody,
  });
  const text = await response.text();
  let body: WebhookAnswer['body'];
  try {
    body = JSON.parse(text) as WebhookAnswer['body'];
  } catch {
    body = undefined;
  }
  return { status: response.status, text, body };
}

/** Posts a form like a browser submitting the local checkout page. */
export async function submitCheckout(checkoutUrl: string, action: 'confirm' | 'cancel'): Promise<{ status: number; html: string; type: string | null }> {
  const response = await fetch(checkoutUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ action }).toString() });
  return { status: response.status, html: await response.text(), type: response.headers.get('content-type') };
}

import { z } from 'zod';

/**
 * A processor's notification, the body of POST /v1/billing/webhooks/:provider (JSON):
 *
 *     { "id": "<the processor's event id>", "type": "payment.succeeded" | "payment.failed" | "payment.cancelled",
 *       "orderId": "<our order id>", "transactionId": "<the processor's payment id; required on success>",
 *       "amount": <minor units>, "currency": "EUR", "occurredAt": "<ISO 8601>" }
 *
 * Fields the processor adds are ignored (never stored). `id` is what replays are recognised by.
 */
export const WebhookEvent = z
  .object({
    id: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII'),
    type: z.enum(['payment.succeeded', 'payment.failed', 'payment.cancelled']),
    orderId: z.uuid(),
    transactionId: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII').optional(),
    amount: z.number().int().positive(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .refine((event) => event.type !== 'payment.succeeded' || event.transactionId !== undefined, { message: 'is required on payment.succeeded', path: ['transactionId'] });
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** Parses a body already checked for card data; the reason names the field, never its value. */
export function parseWebhookEvent(body: string): { ok: true; event: WebhookEvent } | { ok: false; why: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, why: 'the body is not JSON' };
  }
  const parsed = WebhookEvent.safeParse(raw);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map((segment) => (typeof segment === 'number' || /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(String(segment)) ? String(segment) : '?')).join('.') || 'body';
  return { ok: false, why: `${field}: ${issue.message}`.slice(0, 200) };
}

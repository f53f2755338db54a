import { z } from 'zod';
import type { BillingConfig } from '../config.js';
import { PaymentProcessor, ProcessorUnavailable, type CheckoutRequest } from './payment-processor.js';

const MAX_RESPONSE_BYTES = 16 * 1024;

const CheckoutResponse = z.object({
  checkoutUrl: z.url().refine((value) => /^https?:$/.test(new URL(value).protocol), { message: 'must be http(s)' }),
});

/**
 * A generic processor with an HTTP API: `POST PAYMENT_PROCESSOR_URL` with exactly
 * `{orderId, amount, currency, email}` (JSON; `authorization: Bearer` when a key is
 * configured; no other header of ours), answered `{checkoutUrl}`. The outcome arrives later
 * through the signed webhook. Time-limited, no redirects followed, the answer size- and
 * shape-checked.
 */
export class WebhookPaymentProcessor extends PaymentProcessor {
  readonly provider: string;

  constructor(private readonly config: Pick<BillingConfig, 'PAYMENT_PROCESSOR_URL' | 'PAYMENT_PROCESSOR_API_KEY' | 'PAYMENT_PROCESSOR_TIMEOUT_MS' | 'PAYMENT_PROVIDER_NAME'>) {
    super();
    if (!config.PAYMENT_PROCESSOR_URL) throw new Error('PAYMENT_PROCESSOR_URL is required for the webhook processor');
    this.provider = config.PAYMENT_PROVIDER_NAME;
  }

  async createCheckout(request: CheckoutRequest): Promise<{ checkoutUrl: string }> {
    const body = JSON.stringify({ orderId: request.orderId, amount: request.amount, currency: request.currency, email: request.email });
    let response: Response;
    try {
      response = await fetch(this.config.PAYMENT_PROCESSOR_URL!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(this.config.PAYMENT_PROCESSOR_API_KEY ? { authorization: `Bearer ${this.config.PAYMENT_PROCESSOR_API_KEY}` } : {}),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.config.PAYMENT_PROCESSOR_TIMEOUT_MS),
      });
    } catch (error) {
      throw new ProcessorUnavailable(`the processor could not be reached: ${(error as Error).name}`);
    }
    const text = await readLimited(response, MAX_RESPONSE_BYTES);
    if (!response.ok) throw new ProcessorUnavailable(`the processor answered ${response.status}`);
    if (!/^application\/(?:[a-z.+-]+\+)?json\b/i.test(response.headers.get('content-type') ?? '')) throw new ProcessorUnavailable('the processor answered something other than JSON');
    let parsed: z.ZodSafeParseResult<z.infer<typeof CheckoutResponse>>;
    try {
      parsed = CheckoutResponse.safeParse(JSON.parse(text));
    } catch {
      throw new ProcessorUnavailable('the processor answered malformed JSON');
    }
    if (!parsed.success) throw new ProcessorUnavailable('the processor answered without a checkout URL');
    return { checkoutUrl: parsed.data.checkoutUrl };
  }
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new ProcessorUnavailable('the processor’s answer is too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

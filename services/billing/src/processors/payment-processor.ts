/**
 * §7.1: what a payment processor learns of an order — the amount, the currency, our order
 * id and the buyer's email — and nothing else (no user id, name, product, address hash).
 */
export interface CheckoutRequest {
  orderId: string;
  amount: number;
  currency: string;
  email: string;
}

/** The processor could not be reached or answered something unusable; the order fails and the buyer may try again. */
export class ProcessorUnavailable extends Error {
  override readonly name = 'ProcessorUnavailable';
}

/**
 * A payment processor, as billing uses it: it opens a checkout for an order (where the
 * buyer enters card details — on the processor's page, never ours) and later tells the
 * outcome through the signed webhook. Which one runs is configuration (PAYMENT_PROCESSOR).
 */
export abstract class PaymentProcessor {
  /** The `:provider` its webhooks arrive under; recorded on each order. */
  abstract readonly provider: string;
  abstract createCheckout(request: CheckoutRequest): Promise<{ checkoutUrl: string }>;
}

import { RpcError } from '@homiwork/messaging';

// The answers billing gives. Messages name the problem and never echo personal data, nor
// anything of a webhook body (which may carry card data).
export const BillingErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  // A request for an account erased meanwhile: 401 like every other request of that account from then on.
  accountDeleted: () => new RpcError(401, 'unauthorized', 'this account has been deleted'),
  insufficientEnergy: (cost: number) => new RpcError(402, 'insufficient_energy', `not enough energy: this costs ${cost}`),
  reservationConflict: () => new RpcError(409, 'reservation_conflict', 'reservationId: already used for another user or purpose'),
  reservationClosed: () => new RpcError(409, 'reservation_closed', 'reservationId: the job already ended; nothing was charged'),
  productNotFound: () => new RpcError(404, 'product_not_found', 'productId: no such product'),
  orderNotFound: () => new RpcError(404, 'not_found', 'no such order'),
  orderNotPending: () => new RpcError(409, 'order_not_pending', 'this order is already paid, cancelled or closed'),
  tooManyOpenOrders: (max: number, hours: number) =>
    new RpcError(409, 'too_many_open_orders', `you have ${max} unpaid orders open: pay or cancel one first (an unpaid order lapses ${hours} h after it was placed)`),
  // Two requests for the same product at once: the first is still opening its checkout.
  orderInProgress: () => new RpcError(409, 'order_in_progress', 'an order for this product is being opened; ask again in a moment to get its checkout', 1),
  processorUnavailable: () => new RpcError(503, 'service_unavailable', 'the payment processor is unavailable; try again shortly', 5),
  unknownProvider: () => new RpcError(404, 'not_found', 'no such payment provider'),
  invalidSignature: (why: string) => new RpcError(401, 'invalid_signature', `the webhook signature is ${why}`),
  invalidWebhook: (why: string) => new RpcError(400, 'invalid_webhook', `the webhook is invalid: ${why}`),
  cardDataRefused: () =>
    new RpcError(422, 'card_data_refused', 'the body carries card data (a card number, security code or expiry); it was neither stored nor logged — card details go to the payment processor only'),
  localProcessorOnly: () => new RpcError(404, 'not_found', 'there is no local checkout: the configured payment processor has its own'),
};

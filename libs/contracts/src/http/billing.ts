import { z } from 'zod';
import { CompleteCheckoutRoute, CreateOrderRoute, GetBalanceRoute, ListProductsRoute, ListTransactionsRoute, ReceiveWebhookRoute } from '../rpc/billing.js';
import { COMMON_ERRORS as E, defineHttpRoute } from './http-route.js';

export const GetBalance = defineHttpRoute({
  method: 'GET',
  path: '/v1/billing/balance',
  summary: 'The caller’s energy balance',
  tag: 'billing',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: GetBalanceRoute.response,
  errors: [E.unauthorized, E.rateLimited],
});

export const ListProducts = defineHttpRoute({
  method: 'GET',
  path: '/v1/billing/products',
  summary: 'Energy packs and Prime periods for sale (amounts in the currency’s minor unit)',
  tag: 'billing',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ListProductsRoute.response,
  errors: [E.unauthorized, E.rateLimited],
});

export const CreateOrder = defineHttpRoute({
  method: 'POST',
  path: '/v1/billing/orders',
  summary: 'Order a product; pay on the processor’s checkout page (the processor learns only amount, currency, order id and email)',
  tag: 'billing',
  auth: 'user',
  rateLimit: 'write',
  body: CreateOrderRoute.request,
  successStatus: 201,
  response: CreateOrderRoute.response,
  errors: [E.validation, E.invalidJson, E.unauthorized, [404, 'product_not_found'], [409, 'too_many_open_orders'], [409, 'order_in_progress'], E.rateLimited, E.unavailable],
});

export const ReceiveWebhook = defineHttpRoute({
  method: 'POST',
  path: '/v1/billing/webhooks/:provider',
  summary: 'A payment processor’s signed notification (HMAC-SHA256 over `timestamp.body`, ±300 s); deduplicated on its event id',
  tag: 'billing',
  auth: 'public',
  rateLimit: 'write',
  body: undefined,
  bodyFormat: 'raw',
  successStatus: 200,
  response: ReceiveWebhookRoute.response,
  errors: [[400, 'invalid_webhook'], [401, 'invalid_signature'], E.notFound, [415, 'unsupported_media_type'], [422, 'card_data_refused'], E.tooLarge, E.rateLimited, E.unavailable],
});

export const ListTransactions = defineHttpRoute({
  method: 'GET',
  path: '/v1/billing/transactions',
  summary: 'The caller’s orders and payments (never card data: none is ever received)',
  tag: 'billing',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ListTransactionsRoute.response,
  errors: [E.unauthorized, E.rateLimited],
});

export const GetCheckoutPage = defineHttpRoute({
  method: 'GET',
  path: '/v1/billing/checkout/:orderId',
  summary: 'The `local` processor’s checkout page (development only): confirm or cancel, then the processor’s webhook is called',
  tag: 'billing',
  auth: 'public',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.string(),
  htmlResponse: true,
  errors: [E.notFound, E.rateLimited],
});

export const CompleteCheckout = defineHttpRoute({
  method: 'POST',
  path: '/v1/billing/checkout/:orderId',
  summary: 'The `local` processor’s confirm or cancel button (development only)',
  tag: 'billing',
  auth: 'public',
  rateLimit: 'write',
  body: CompleteCheckoutRoute.request.pick({ action: true }),
  bodyFormat: 'form',
  successStatus: 200,
  response: z.string(),
  htmlResponse: true,
  errors: [E.validation, E.notFound, [409, 'order_not_pending'], E.rateLimited],
});

export const BILLING_ROUTES = [GetBalance, ListProducts, CreateOrder, ReceiveWebhook, ListTransactions, GetCheckoutPage, CompleteCheckout] as const;

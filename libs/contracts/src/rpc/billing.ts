import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';

/** The caller's energy balance (billing owns the ledger; the gateway shows it on GET /v1/me). */
export const GetBalanceRoute = defineRoute({ service: 'billing', method: 'balance.get', request: z.strictObject({}), response: z.strictObject({ energy: z.number().int().nonnegative() }) });

/** What energy is spent on; the price of each is billing's configuration (ENERGY_COSTS). */
export const EnergyPurpose = z.enum(['song', 'image', 'poem', 'text', 'video', 'chat']);
export type EnergyPurpose = z.infer<typeof EnergyPurpose>;

/**
 * R4.4: hold the price of one generation (or chat reply) before it is dispatched.
 * Idempotent on `reservationId` (the job's id): asking again answers the same reservation
 * and charges nothing more. 402 `insufficient_energy` when the balance cannot pay. The
 * reservation is committed or refunded by GenerationFinished, never by a call.
 */
export const ReserveEnergyRoute = defineRoute({
  service: 'billing',
  method: 'energy.reserve',
  request: z.strictObject({ userId: z.uuid(), reservationId: z.uuid(), purpose: EnergyPurpose }),
  response: z.strictObject({ cost: z.number().int().nonnegative(), energy: z.number().int().nonnegative() }),
  callers: ['generation', 'chat'],
});

/** Amounts are integers in the currency's minor unit (cents): 499 EUR is €4.99. */
export const Product = z.strictObject({
  id: z.string(),
  kind: z.enum(['energy', 'prime']),
  name: z.string(),
  energy: z.number().int().positive().optional(),
  primeDays: z.number().int().positive().optional(),
  amount: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
});
export type Product = z.infer<typeof Product>;

export const ListProductsRoute = defineRoute({ service: 'billing', method: 'products.list', request: z.strictObject({}), response: z.strictObject({ items: z.array(Product) }) });

export const CreateOrderRoute = defineRoute({
  service: 'billing',
  method: 'orders.create',
  request: z.strictObject({ productId: z.string().min(1).max(64) }),
  response: z.strictObject({ orderId: z.uuid(), amount: z.number().int().positive(), currency: z.string(), checkoutUrl: z.url() }),
});

export const OrderStatus = z.enum(['pending', 'paid', 'cancelled', 'failed', 'closed']);

/** A transaction record as its owner sees it: no card data exists to show. */
export const Transaction = z.strictObject({
  orderId: z.uuid(),
  productId: z.string(),
  kind: z.enum(['energy', 'prime']),
  amount: z.number().int().positive(),
  currency: z.string(),
  status: OrderStatus,
  createdAt: z.iso.datetime(),
  paidAt: z.iso.datetime().nullable(),
});
export type Transaction = z.infer<typeof Transaction>;

export const ListTransactionsRoute = defineRoute({ service: 'billing', method: 'transactions.list', request: z.strictObject({}), response: z.strictObject({ items: z.array(Transaction) }) });

/**
 * A payment processor's webhook, as the gateway received it: the raw body (the signature
 * covers its exact bytes) and the signature header. 401 on a bad or stale signature, 422
 * when the body carries card data (then neither stored nor logged), 200 otherwise —
 * also for a replay, which changes nothing.
 */
export const ReceiveWebhookRoute = defineRoute({
  service: 'billing',
  method: 'webhooks.receive',
  request: z.strictObject({ provider: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/), signature: z.string().max(512).optional(), body: z.string().max(65_536) }),
  response: z.strictObject({ received: z.boolean() }),
});

/** The `local` processor's checkout page (development only): what the order is. */
export const GetCheckoutRoute = defineRoute({
  service: 'billing',
  method: 'checkout.get',
  request: z.strictObject({ orderId: z.uuid() }),
  response: z.strictObject({ orderId: z.uuid(), productName: z.string(), amount: z.number().int().positive(), currency: z.string(), status: OrderStatus }),
});

/** The `local` processor's confirm/cancel: it then calls the webhook over HTTP as a processor would. */
export const CompleteCheckoutRoute = defineRoute({
  service: 'billing',
  method: 'checkout.complete',
  request: z.strictObject({ orderId: z.uuid(), action: z.enum(['confirm', 'cancel']) }),
  response: z.strictObject({ orderId: z.uuid(), status: OrderStatus }),
});

import { Body, Controller, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { BillingRpc, CreateOrder, GetBalance, ListProducts, ListTransactions, ReceiveWebhook } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { callerOf } from '../edge/request-context.js';
import { GatewayError, GatewayErrors } from '../errors/gateway-error.js';
import { ServeRoute } from './http-route.decorator.js';
import { parseBody } from './parse-body.js';

const { provider: ProviderName, signature: SignatureValue } = BillingRpc.ReceiveWebhookRoute.request.shape;

/** The processor signs with this header (see billing's webhook verification). */
export const SIGNATURE_HEADER = 'processor-signature';

/**
 * API.md's Billing table, except the local processor's checkout pages (CheckoutController).
 * The webhook is public: the processor proves itself with its signature, which billing
 * checks over the body exactly as received; the gateway neither parses nor logs it (it may
 * carry card data that billing must refuse without a trace).
 */
@Controller()
export class BillingController {
  constructor(private readonly rpc: RpcClient) {}

  @ServeRoute(GetBalance)
  balance(@Req() request: FastifyRequest) {
    return this.rpc.call(BillingRpc.GetBalanceRoute, {}, callerOf(request));
  }

  @ServeRoute(ListProducts)
  products(@Req() request: FastifyRequest) {
    return this.rpc.call(BillingRpc.ListProductsRoute, {}, callerOf(request));
  }

  @ServeRoute(CreateOrder)
  createOrder(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(BillingRpc.CreateOrderRoute, parseBody(CreateOrder.body, body), callerOf(request));
  }

  @ServeRoute(ListTransactions)
  transactions(@Req() request: FastifyRequest) {
    return this.rpc.call(BillingRpc.ListTransactionsRoute, {}, callerOf(request));
  }

  @ServeRoute(ReceiveWebhook)
  webhook(@Param('provider') provider: string, @Body() body: unknown, @Req() request: FastifyRequest) {
    // No such provider can exist: the 404 billing gives an unknown one, without asking it.
    if (!ProviderName.safeParse(provider).success) throw GatewayErrors.notFound();
    // The raw-body parser gives a string; anything else came as another content type or none.
    if (typeof body !== 'string') throw new GatewayError(415, 'unsupported_media_type', 'send the processor’s payload as application/json');
    const signature = request.headers[SIGNATURE_HEADER];
    if (signature !== undefined && (typeof signature !== 'string' || !SignatureValue.safeParse(signature).success)) throw new GatewayError(401, 'invalid_signature', 'the signature header is malformed');
    return this.rpc.call(BillingRpc.ReceiveWebhookRoute, { provider, body, ...(signature !== undefined ? { signature } : {}) }, callerOf(request));
  }
}

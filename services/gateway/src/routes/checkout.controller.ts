import { Body, Controller, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BillingRpc, CompleteCheckout, GetCheckoutPage } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { GatewayConfig, localCheckoutPageEnabled } from '../config.js';
import { callerOf } from '../edge/request-context.js';
import { GatewayErrors } from '../errors/gateway-error.js';
import { CHECKOUT_PAGE_CSP, renderCheckoutPage, renderCheckoutResult } from './checkout-page.js';
import { ServeRoute } from './http-route.decorator.js';
import { parseBody } from './parse-body.js';
import { resourceId } from './request-params.js';

/**
 * The `local` payment processor's hosted checkout, for development and tests: the page a
 * real processor would show, with a pay and a cancel button instead of a card form. Public
 * like a processor's page (reached through the order's unguessable id); billing then calls
 * the webhook as the processor would. Off (404) unless enabled (LOCAL_CHECKOUT_PAGE).
 */
@Controller()
export class CheckoutController {
  private readonly enabled: boolean;

  constructor(
    private readonly rpc: RpcClient,
    @Inject(GatewayConfig) config: GatewayConfig,
  ) {
    this.enabled = localCheckoutPageEnabled(config);
  }

  @ServeRoute(GetCheckoutPage)
  async page(@Param('orderId') orderId: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const id = this.orderId(orderId);
    const order = await this.rpc.call(BillingRpc.GetCheckoutRoute, { orderId: id }, callerOf(request));
    htmlPage(reply);
    return renderCheckoutPage(order);
  }

  @ServeRoute(CompleteCheckout)
  async complete(@Param('orderId') orderId: string, @Body() body: unknown, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const id = this.orderId(orderId);
    const { action } = parseBody(CompleteCheckout.body, body);
    const result = await this.rpc.call(BillingRpc.CompleteCheckoutRoute, { orderId: id, action }, callerOf(request));
    htmlPage(reply);
    return renderCheckoutResult(result);
  }

  private orderId(orderId: string): string {
    if (!this.enabled) throw GatewayErrors.notFound();
    return resourceId(orderId);
  }
}

function htmlPage(reply: FastifyReply): void {
  void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', CHECKOUT_PAGE_CSP);
}

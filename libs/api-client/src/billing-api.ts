import { CompleteCheckout, CreateOrder, GetBalance, GetCheckoutPage, ListProducts, ListTransactions, ReceiveWebhook, type HttpBody, type HttpResponse } from '@homiwork/contracts';
import type { ApiClient } from './api-client.js';

/** The billing routes by name, the local processor's checkout pages and the processors' webhook included. */
export class BillingApi {
  constructor(private readonly client: ApiClient) {}

  balance(): Promise<HttpResponse<typeof GetBalance>> {
    return this.client.call(GetBalance);
  }

  products(): Promise<HttpResponse<typeof ListProducts>> {
    return this.client.call(ListProducts);
  }

  createOrder(productId: string): Promise<HttpResponse<typeof CreateOrder>> {
    return this.client.call(CreateOrder, { body: { productId } });
  }

  transactions(): Promise<HttpResponse<typeof ListTransactions>> {
    return this.client.call(ListTransactions);
  }

  /** The local processor's checkout page, as HTML. */
  checkoutPage(orderId: string): Promise<string> {
    return this.client.call(GetCheckoutPage, { params: { orderId } });
  }

  /** Presses the page's pay (`confirm`) or cancel button: a form post, answered with an HTML page. */
  completeCheckout(orderId: string, action: HttpBody<typeof CompleteCheckout>['action']): Promise<string> {
    return this.client.call(CompleteCheckout, { params: { orderId }, body: { action } });
  }

  /**
   * What a processor sends: `body` goes byte for byte (the signature covers it), the
   * signature in the `processor-signature` header.
   */
  webhook(provider: string, body: string, signature?: string): Promise<HttpResponse<typeof ReceiveWebhook>> {
    // The route's body is raw text, which its schema-less table entry cannot type.
    return this.client.call(ReceiveWebhook, { params: { provider }, body: body as never, ...(signature !== undefined ? { headers: { 'processor-signature': signature } } : {}) });
  }
}

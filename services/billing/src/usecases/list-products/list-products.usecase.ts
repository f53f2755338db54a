import { Inject, Injectable } from '@nestjs/common';
import type { BillingRpc } from '@homiwork/contracts';
import { BillingConfig } from '../../config.js';

/** The catalogue (BILLING_PRODUCTS or the built-in one); amounts in the currency's minor unit. */
@Injectable()
export class ListProducts {
  constructor(@Inject(BillingConfig) private readonly config: BillingConfig) {}

  execute(): { items: BillingRpc.Product[] } {
    return { items: this.config.BILLING_PRODUCTS };
  }
}

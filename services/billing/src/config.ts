import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { RETENTION_SCHEDULE } from '@homiwork/contracts';
import { DEFAULT_PRODUCTS, parseCatalogueJson, parseEnergyCosts } from './catalogue/catalogue.js';

const httpUrl = z.url().refine((value) => /^https?:$/.test(new URL(value).protocol), { message: 'must use http or https' });

/** Billing's environment, validated at boot: a missing or bad setting stops it with one line. */
export const billingConfigSchema = withTestOnlyClockControl(
  databaseServiceConfig.extend({
    /** Energy every new account receives once (UserRegistered). */
    ENERGY_SIGNUP_GRANT: z.coerce.number().int().min(0).max(1_000_000).default(100),
    /** The price of each generation kind and of a chat reply: `song=30,image=10,…`; every purpose priced. */
    ENERGY_COSTS: z.string().default('song=30,image=10,poem=2,text=2,video=50,chat=1').transform(parseEnergyCosts),
    /** What is for sale, as a JSON array (see catalogue.ts); the built-in catalogue when unset. */
    BILLING_PRODUCTS: z
      .string()
      .optional()
      .transform((text, context) => (text === undefined || text.trim() === '' ? [...DEFAULT_PRODUCTS] : parseCatalogueJson(text, context))),
    /**
     * `local`: the development processor (checkout page on the gateway, which then calls the
     * webhook as a processor would); refused in production. `webhook`: a processor reached at
     * PAYMENT_PROCESSOR_URL that notifies through the signed webhook. No default: `local`
     * hands out energy and Prime for nothing, so it runs only where it is asked for (npm
     * start and the e2e harness set it outside production), never because NODE_ENV was unset.
     */
    PAYMENT_PROCESSOR: z.enum(['local', 'webhook'], {
      error: (issue) => `must be ${issue.input === undefined ? 'set: ' : ''}webhook (with PAYMENT_PROCESSOR_URL), or local outside production`,
    }),
    /** The `:provider` of the webhook path for the `webhook` processor (the local one is `local`). */
    PAYMENT_PROVIDER_NAME: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lower-case letters, digits or dashes').default('processor'),
    /** The HMAC-SHA256 key of webhook signatures, shared with the processor. */
    PAYMENT_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters'),
    /** `webhook` processor: where orders are created (POST {orderId, amount, currency, email} → {checkoutUrl}). */
    PAYMENT_PROCESSOR_URL: httpUrl.optional(),
    /** `webhook` processor: a bearer key for that API, if it wants one. */
    PAYMENT_PROCESSOR_API_KEY: z.string().min(8).optional(),
    PAYMENT_PROCESSOR_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(5_000),
    /** The public API's address: the local checkout page and the local processor's webhook call are under it. */
    PUBLIC_API_URL: httpUrl.default('http://127.0.0.1:8080'),
    /** How often Prime periods that ended are announced (PrimeStatusChanged active:false). */
    PRIME_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
    /**
     * §5.7: transaction records are kept this many years after creation (or payment), then deleted.
     * Default: the schedule's period (libs/contracts/src/retention-schedule.ts) in whole years.
     */
    TRANSACTION_RETENTION_YEARS: z.coerce.number().int().min(5).max(30).default(Math.floor(RETENTION_SCHEDULE.transactionRecords.days / 365)),
    TRANSACTION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(3_600_000),
    /** Orders a user may have open (pending) at once; one more is refused with 409 too_many_open_orders. */
    MAX_OPEN_ORDERS_PER_USER: z.coerce.number().int().min(1).max(100).default(5),
    /** An order not paid within this many hours is cancelled (the buyer may order again). */
    PENDING_ORDER_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(24),
    /** An order that ended unpaid (cancelled, failed, closed) is no transaction record of §5.7: deleted this many days after it ended. */
    UNPAID_ORDER_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    /** Processors retry a notification for days; its event id is remembered this long to answer the retry as a replay. */
    WEBHOOK_EVENT_RETENTION_DAYS: z.coerce.number().int().min(7).max(365).default(30),
  }),
).superRefine((config, context) => {
  if (config.PAYMENT_PROCESSOR === 'local' && config.NODE_ENV === 'production') {
    context.addIssue({ code: 'custom', path: ['PAYMENT_PROCESSOR'], message: 'may be local only outside production (set webhook and PAYMENT_PROCESSOR_URL)' });
  }
  if (config.PAYMENT_PROCESSOR === 'webhook' && !config.PAYMENT_PROCESSOR_URL) {
    context.addIssue({ code: 'custom', path: ['PAYMENT_PROCESSOR_URL'], message: 'is required when PAYMENT_PROCESSOR=webhook' });
  }
});
export type BillingConfig = z.infer<typeof billingConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(BillingConfig) config: BillingConfig`. */
export const BillingConfig = Symbol('BillingConfig');

/** The `:provider` name the configured processor's webhooks arrive under (and orders record). */
export function providerName(config: Pick<BillingConfig, 'PAYMENT_PROCESSOR' | 'PAYMENT_PROVIDER_NAME'>): string {
  return config.PAYMENT_PROCESSOR === 'local' ? 'local' : config.PAYMENT_PROVIDER_NAME;
}

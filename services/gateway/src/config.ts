import { z } from 'zod';
import { baseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { SERVICE_NAMES } from '@homiwork/contracts';

const perMinute = (fallback: number) => z.coerce.number().int().min(1).max(1_000_000).default(fallback);

export const gatewayConfigSchema = withTestOnlyClockControl(
  baseServiceConfig.extend({
    HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HTTP_HOST: z.string().default('127.0.0.1'),
    /**
     * Which proxies to believe for the client address (Fastify trustProxy): `false` (the
     * socket peer is the client), `true`, or a comma list of addresses/CIDRs/`loopback`.
     */
    TRUST_PROXY: z
      .string()
      .default('false')
      .transform((value): boolean | string[] => (value === 'false' ? false : value === 'true' ? true : value.split(',').map((part) => part.trim()))),
    /** Private salt of SHA-256(salt ‖ ip) (§2.1.4); at least 32 characters of randomness. */
    IP_HASH_SALT: z.string().min(32, 'must be at least 32 characters'),
    JWT_PUBLIC_KEY: z.string().refine((value) => value.includes('-----BEGIN PUBLIC KEY-----'), { message: 'must be a PEM public key' }),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(900).default(300),
    CORS_ORIGINS: z
      .string()
      .default('http://localhost:3000')
      .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean)),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
    /** Services whose readiness /health/ready reports. */
    DOWNSTREAM_SERVICES: z
      .string()
      .default('identity')
      .transform((value) => value.split(',').map((name) => name.trim()))
      .pipe(z.array(z.enum(SERVICE_NAMES))),
    /** Media's internal byte API (uploads and downloads stream through it, not through NATS). */
    MEDIA_INTERNAL_URL: z.url().default('http://127.0.0.1:9102'),
    INTERNAL_API_TOKEN: z.string().min(32, 'must be at least 32 characters'),
    /** The largest upload of any kind; media applies each kind's own limit. */
    UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).default(200 * 1024 * 1024),
    RATE_LIMIT_AUTH_PER_MINUTE: perMinute(10),
    RATE_LIMIT_READ_PER_MINUTE: perMinute(600),
    RATE_LIMIT_WRITE_PER_MINUTE: perMinute(120),
    /** Generations started per minute, per address and per account: each one costs contractor time and energy. */
    RATE_LIMIT_GENERATION_PER_MINUTE: perMinute(20),
    /**
     * The `local` payment processor's checkout page (GET/POST /v1/billing/checkout/:orderId):
     * confirms an order without any payment, so development and tests only. Off (a 404)
     * unless `enabled` — also when NODE_ENV is unset; refused in production. npm start and
     * the e2e harness enable it outside production, with billing's `local` processor.
     */
    LOCAL_CHECKOUT_PAGE: z.enum(['enabled', 'disabled']).default('disabled'),
  }),
)
  .refine((config) => !(config.NODE_ENV === 'production' && config.TRUST_PROXY === true), {
    // `true` believes X-Forwarded-For from anyone: every client could pick the address its
    // limits and security events are keyed on.
    message: 'may not be true in production: list the proxies in front of the gateway (addresses or CIDRs)',
    path: ['TRUST_PROXY'],
  })
  .refine((config) => !(config.NODE_ENV === 'production' && config.LOCAL_CHECKOUT_PAGE === 'enabled'), {
    message: 'may not be enabled in production: the local checkout marks orders paid without a payment',
    path: ['LOCAL_CHECKOUT_PAGE'],
  });
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

export const localCheckoutPageEnabled = (config: Pick<GatewayConfig, 'LOCAL_CHECKOUT_PAGE'>): boolean => config.LOCAL_CHECKOUT_PAGE === 'enabled';

/**
 * The injection token of the gateway's parsed configuration: `@Inject(GatewayConfig)
 * private readonly config: GatewayConfig` — typed, no cast. GatewayModule provides it.
 */
export const GatewayConfig = Symbol('GatewayConfig');

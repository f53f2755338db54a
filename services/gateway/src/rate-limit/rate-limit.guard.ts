import { createHmac } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Counter } from 'prom-client';
import { Email, Login, type HttpRoute } from '@homiwork/contracts';
import { ServiceMetrics } from '@homiwork/observability';
import { GatewayConfig } from '../config.js';
import { GatewayErrors } from '../errors/gateway-error.js';
import { HTTP_ROUTE_METADATA } from '../routes/http-route.decorator.js';
import { NatsKvRateLimiter, type RateDecision } from './nats-kv-rate-limiter.js';

const WINDOW_SECONDS = 60;

/**
 * R2.2: limits per route policy, keyed on the address hash and on the account. For the
 * public auth routes the account is the login or email named in the body (keyed by an
 * HMAC, never the value), so guessing one account's password from many addresses is
 * limited too. The named value is normalized exactly as the body schema (`Login`,
 * `Email`: trimmed) and identity's lookup (`lower(...)`) do, so padding or case does not
 * give the same account a fresh budget. Auth routes are the strictest, reads the most
 * generous.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limits: Record<HttpRoute['rateLimit'], number>;
  private readonly salt: string;
  /** `limit` is the route's policy (auth, read, write, generation): never the key, which names an address or an account. */
  private readonly rejections: Counter<'limit'>;

  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: NatsKvRateLimiter,
    @Inject(GatewayConfig) config: GatewayConfig,
    metrics: ServiceMetrics,
  ) {
    this.salt = config.IP_HASH_SALT;
    this.limits = { auth: config.RATE_LIMIT_AUTH_PER_MINUTE, read: config.RATE_LIMIT_READ_PER_MINUTE, write: config.RATE_LIMIT_WRITE_PER_MINUTE, generation: config.RATE_LIMIT_GENERATION_PER_MINUTE };
    this.rejections = metrics.counter({ name: 'gateway_rate_limit_rejections_total', help: 'Requests refused with 429 by the rate limit, by the route policy whose limit was reached', labelNames: ['limit'] as const });
    for (const limit of Object.keys(this.limits)) this.rejections.inc({ limit }, 0);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.reflector.get<HttpRoute | undefined>(HTTP_ROUTE_METADATA, context.getHandler());
    if (!route || route.path.startsWith('/health/')) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const limit = this.limits[route.rateLimit];
    const keys = [`${route.rateLimit}.ip.${request.edge.ipHash}`];
    const account = request.edge.claims?.sub ?? this.namedAccount(request.body);
    if (account) keys.push(`${route.rateLimit}.account.${account}`);
    // Decided locally (no I/O) in the common case; only a promise when the shared store is asked.
    const decisions: Array<RateDecision | Promise<RateDecision>> = keys.map((key) => this.limiter.hit(key, limit, WINDOW_SECONDS));
    const settled = decisions.some((decision) => decision instanceof Promise) ? await Promise.all(decisions.map((decision) => Promise.resolve(decision))) : (decisions as RateDecision[]);
    const refused = settled.find((decision) => !decision.allowed);
    if (refused) {
      this.rejections.inc({ limit: route.rateLimit });
      throw GatewayErrors.rateLimited(refused.retryAfterSeconds);
    }
    return true;
  }

  /** The account a public auth request names: `login` (login) or `email` (register, password reset), as identity will look it up. */
  private namedAccount(body: unknown): string | undefined {
    if (typeof body !== 'object' || body === null) return undefined;
    const fields = body as Record<string, unknown>;
    const named = fields.login !== undefined ? Login.safeParse(fields.login) : fields.email !== undefined ? Email.safeParse(fields.email) : undefined;
    // A value the schema refuses gets a 400 from the handler; the address key still counts it.
    if (!named?.success) return undefined;
    return createHmac('sha256', this.salt).update(named.data.toLowerCase()).digest('hex');
  }
}

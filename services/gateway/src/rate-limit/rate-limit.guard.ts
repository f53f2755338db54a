import { createHmac } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { HttpRoute } from '@homiwork/contracts';
import { SERVICE_CONFIG, type ServiceKitOptions } from '@homiwork/service-kit';
import type { GatewayConfig } from '../config.js';
import { GatewayErrors } from '../errors/gateway-error.js';
import { HTTP_ROUTE_METADATA } from '../routes/http-route.decorator.js';
import { NatsKvRateLimiter } from './nats-kv-rate-limiter.js';

const WINDOW_SECONDS = 60;

/**
 * R2.2: limits per route policy, keyed on the address hash and on the account. For the
 * public auth routes the account is the login or email named in the body (keyed by an
 * HMAC, never the value), so guessing one account's password from many addresses is
 * limited too. Auth routes are the strictest, reads the most generous.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limits: Record<HttpRoute['rateLimit'], number>;
  private readonly salt: string;

  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: NatsKvRateLimiter,
    @Inject(SERVICE_CONFIG) options: ServiceKitOptions,
  ) {
    const config = options.config as GatewayConfig;
    this.salt = config.IP_HASH_SALT;
    this.limits = { auth: config.RATE_LIMIT_AUTH_PER_MINUTE, read: config.RATE_LIMIT_READ_PER_MINUTE, write: config.RATE_LIMIT_WRITE_PER_MINUTE, generation: config.RATE_LIMIT_GENERATION_PER_MINUTE };
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.reflector.get<HttpRoute | undefined>(HTTP_ROUTE_METADATA, context.getHandler());
    if (!route || route.path.startsWith('/health/')) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const limit = this.limits[route.rateLimit];
    const keys = [`${route.rateLimit}.ip.${request.edge.ipHash}`];
    const account = request.edge.claims?.sub ?? this.namedAccount(request.body);
    if (account) keys.push(`${route.rateLimit}.account.${account}`);
    const decisions = await Promise.all(keys.map((key) => this.limiter.hit(key, limit, WINDOW_SECONDS)));
    const refused = decisions.find((decision) => !decision.allowed);
    if (refused) throw GatewayErrors.rateLimited(refused.retryAfterSeconds);
    return true;
  }

  private namedAccount(body: unknown): string | undefined {
    if (typeof body !== 'object' || body === null) return undefined;
    const named = (body as Record<string, unknown>).login ?? (body as Record<string, unknown>).email;
    if (typeof named !== 'string' || named.length === 0 || named.length > 254) return undefined;
    return createHmac('sha256', this.salt).update(named.trim().toLowerCase()).digest('hex');
  }
}

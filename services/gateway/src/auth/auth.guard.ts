import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AccessTokenVerifier, RevocationMirror } from '@homiwork/auth';
import type { HttpRoute } from '@homiwork/contracts';
import { GatewayErrors } from '../errors/gateway-error.js';
import { HTTP_ROUTE_METADATA } from '../routes/http-route.decorator.js';
import { ActivityReporter } from '../activity/activity-reporter.js';

/**
 * Default deny: a handler not declared with @ServeRoute is refused, a non-public route
 * needs a valid access token whose session and account are not revoked, and operator
 * routes need the operator role.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: AccessTokenVerifier,
    private readonly revocations: RevocationMirror,
    private readonly activity: ActivityReporter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.reflector.get<HttpRoute | undefined>(HTTP_ROUTE_METADATA, context.getHandler());
    if (!route) throw GatewayErrors.notFound();
    if (route.auth === 'public') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header) : null;
    if (!match) throw GatewayErrors.unauthorized();
    const claims = await this.verifier.verify(match[1]!).catch(() => undefined);
    if (!claims || this.revocations.isRevoked(claims)) throw GatewayErrors.unauthorized();
    if (route.auth === 'operator' && claims.role !== 'operator') throw GatewayErrors.forbidden();
    request.edge.claims = claims;
    this.activity.note(claims.sub, request.edge.requestId);
    return true;
  }
}

import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard as PassportAuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from '@homiwork/auth';
import type { HttpRoute } from '@homiwork/contracts';
import { GatewayErrors } from '../errors/gateway-error.js';
import { HTTP_ROUTE_METADATA } from '../routes/http-route.decorator.js';
import { ActivityReporter } from '../activity/activity-reporter.js';
import { ACCESS_TOKEN_STRATEGY } from './access-token.strategy.js';

/**
 * Default deny: a handler not declared with @ServeRoute is refused, a non-public route
 * needs a valid access token whose session and account are not revoked (the passport
 * strategy AccessTokenStrategy), and operator routes need the operator role.
 */
@Injectable()
export class AuthGuard extends PassportAuthGuard(ACCESS_TOKEN_STRATEGY) {
  constructor(
    private readonly reflector: Reflector,
    private readonly activity: ActivityReporter,
  ) {
    // No session and no `request.user` property: the claims go to the request's edge context.
    super({ session: false, property: 'accessTokenClaims' });
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.reflector.get<HttpRoute | undefined>(HTTP_ROUTE_METADATA, context.getHandler());
    if (!route) throw GatewayErrors.notFound();
    if (route.auth === 'public') return true;
    await super.canActivate(context);
    const request = context.switchToHttp().getRequest<FastifyRequest & { accessTokenClaims: AccessTokenClaims }>();
    const claims = request.accessTokenClaims;
    if (route.auth === 'operator' && claims.role !== 'operator') throw GatewayErrors.forbidden();
    request.edge.claims = claims;
    this.activity.note(claims.sub, request.edge.requestId);
    return true;
  }

  /** Passport's verdict: any error or no user is the one 401 of API.md, whatever failed. */
  override handleRequest<TUser = AccessTokenClaims>(error: unknown, user: TUser | false): TUser {
    if (error || !user) throw GatewayErrors.unauthorized();
    return user;
  }
}

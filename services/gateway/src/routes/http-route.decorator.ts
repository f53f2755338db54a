import { applyDecorators, HttpCode, RequestMapping, RequestMethod, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { HttpRoute } from '@homiwork/contracts';
import type { BodyRouteConfig } from '../edge/body-parsers.js';

export const HTTP_ROUTE_METADATA = 'homiwork:http-route';

const METHODS = { GET: RequestMethod.GET, POST: RequestMethod.POST, PATCH: RequestMethod.PATCH, DELETE: RequestMethod.DELETE } as const;

/**
 * Serves a route of the contract table: path, method and status come from the table (so
 * the OpenAPI document and the typed client agree with the server), and the guards read
 * its auth and rate-limit policy from here. A handler without it is refused by the guard.
 * A route whose body is not JSON tells the body parsers so through the Fastify route's config.
 */
export const ServeRoute = (route: HttpRoute): MethodDecorator =>
  applyDecorators(
    RequestMapping({ path: route.path, method: METHODS[route.method] }),
    HttpCode(route.successStatus),
    SetMetadata(HTTP_ROUTE_METADATA, route),
    ...(route.bodyFormat ? [RouteConfig({ bodyFormat: route.bodyFormat } satisfies BodyRouteConfig)] : []),
  );

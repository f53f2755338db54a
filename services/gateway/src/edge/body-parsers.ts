import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { errorCodes, type FastifyRequest } from 'fastify';
import type { HttpRoute } from '@homiwork/contracts';

/**
 * The largest raw body the gateway takes (a processor's webhook), whatever BODY_LIMIT_BYTES
 * says: billing's ReceiveWebhookRoute accepts no more.
 */
export const RAW_BODY_MAX_BYTES = 64 * 1024;

/** What `@ServeRoute` puts in the Fastify route's `config` for a route whose body is not plain JSON. */
export interface BodyRouteConfig {
  bodyFormat?: HttpRoute['bodyFormat'];
}

const bodyFormatOf = (config: unknown): HttpRoute['bodyFormat'] => (config as BodyRouteConfig | undefined)?.bodyFormat;

/**
 * The gateway's two body parsers, each deciding per route from the route table:
 * - `application/json`: parsed with Fastify's own parser (prototype-poisoning checks
 *   included), except on a `raw` route (a webhook), whose body stays the exact text
 *   received, at most RAW_BODY_MAX_BYTES (413 beyond): the processor's signature covers
 *   those bytes, and a parse-and-serialize round trip would not reproduce them.
 * - `application/x-www-form-urlencoded`: only on `form` routes (the local checkout page's
 *   buttons). Elsewhere 415, as any other type: Nest's default would take a form post on
 *   every JSON route, and a cross-site HTML form can post one without the browser asking
 *   first (CORS preflight is only for JSON), so login or registration could be driven
 *   from another site.
 * Registered through Nest (`useBodyParser`) before it adds its defaults, which it then skips.
 */
export function registerBodyParsers(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const json = fastify.getDefaultJsonParser('error', 'error');
  fastify.addHook('onRoute', (route) => {
    if (bodyFormatOf(route.config) === 'raw') route.bodyLimit = RAW_BODY_MAX_BYTES;
  });
  app.useBodyParser('application/json', {}, (request: FastifyRequest, body: Buffer, done) => {
    if (bodyFormatOf(request.routeOptions.config) === 'raw') {
      done(null, body.toString('utf8'));
      return;
    }
    void json(request, body.toString('utf8'), done);
  });
  app.useBodyParser('application/x-www-form-urlencoded', {}, (request: FastifyRequest, body: Buffer, done) => {
    if (bodyFormatOf(request.routeOptions.config) !== 'form') {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
      return;
    }
    // Own data properties only (Object.fromEntries defines, never assigns): a `__proto__`
    // field is an unknown key that the route's strict schema refuses, not a prototype.
    done(null, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  });
}

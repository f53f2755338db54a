import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerHttpTracing, type Logger } from '@homiwork/observability';
import { startService, type StartedService } from '@homiwork/service-kit';
import type { GatewayConfig } from './config.js';
import { registerBodyParsers } from './edge/body-parsers.js';
import { registerEdge } from './edge/request-context.js';
import { GatewayModule } from './gateway.module.js';
import { registerApiDocs } from './openapi.js';

/** The public HTTP entry: edge hashing first, then security headers, CORS, docs, routes. */
export function startGateway(config: GatewayConfig, overrides: { logger?: Logger } = {}): Promise<StartedService> {
  return startService(GatewayModule.forRoot(config, overrides), config, {
    service: 'gateway',
    public: {
      port: config.HTTP_PORT,
      host: config.HTTP_HOST,
      bodyLimit: config.BODY_LIMIT_BYTES,
      trustProxy: config.TRUST_PROXY,
      configure: async (app) => {
        const fastify = app.getHttpAdapter().getInstance();
        registerHttpTracing(fastify);
        registerEdge(fastify, config.IP_HASH_SALT);
        addStaticHeaders(fastify, await securityHeaders());
        await fastify.register(cors, {
          origin: config.CORS_ORIGINS,
          methods: ['GET', 'POST', 'PATCH', 'DELETE'],
          allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
          exposedHeaders: ['retry-after', 'x-request-id'],
          maxAge: 600,
        });
        await fastify.register(multipart, { throwFileSizeLimit: true, limits: { fileSize: config.UPLOAD_MAX_BYTES, files: 1, fields: 0, parts: 2 } });
        registerBodyParsers(app);
        await registerApiDocs(fastify);
      },
    },
  });
}

const HELMET_OPTIONS = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'] } },
};

/**
 * The security headers helmet sets with our options, worked out once at start. Not
 * @fastify/helmet on the live app: it builds a new helmet middleware for every request
 * (parsing the CSP directives again), ~7 % of the gateway's CPU per request in a profile
 * of GET /v1/me; with no CSP nonces the headers are the same for every answer.
 */
async function securityHeaders(): Promise<Record<string, string>> {
  const headersOf = async (withHelmet: boolean) => {
    const probe = Fastify({ logger: false });
    if (withHelmet) await probe.register(helmet, HELMET_OPTIONS);
    probe.get('/', () => '');
    const { headers } = await probe.inject({ method: 'GET', url: '/' });
    await probe.close();
    return headers;
  };
  const plain = await headersOf(false);
  const secured = await headersOf(true);
  return Object.fromEntries(Object.entries(secured).flatMap(([name, value]) => (name in plain || typeof value !== 'string' ? [] : [[name, value]])));
}

function addStaticHeaders(app: FastifyInstance, headers: Record<string, string>): void {
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers);
    done();
  });
}

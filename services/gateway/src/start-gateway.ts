import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import type { Logger } from '@homiwork/observability';
import { startService, type StartedService } from '@homiwork/service-kit';
import type { GatewayConfig } from './config.js';
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
        registerEdge(fastify, config.IP_HASH_SALT);
        await fastify.register(helmet, {
          contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'] } },
        });
        await fastify.register(cors, {
          origin: config.CORS_ORIGINS,
          methods: ['GET', 'POST', 'PATCH', 'DELETE'],
          allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
          exposedHeaders: ['retry-after', 'x-request-id'],
          maxAge: 600,
        });
        await fastify.register(multipart, { throwFileSizeLimit: true, limits: { fileSize: config.UPLOAD_MAX_BYTES, files: 1, fields: 0, parts: 2 } });
        await registerApiDocs(fastify);
      },
    },
  });
}

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, HTTP_ROUTES } from '@homiwork/contracts';

/** /docs (Swagger UI) and /docs/json, built from the same route table the gateway serves. */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  const document = buildOpenApiDocument(HTTP_ROUTES, { title: 'homiwork API', version: '1.0.0' });
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
}

import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '@homiwork/observability';
import type { ServiceRuntime } from './service-runtime.js';

/** Liveness, readiness and Prometheus metrics: the endpoints orchestrators and SREs poll. */
export function registerOpsRoutes(app: FastifyInstance, runtime: ServiceRuntime, metrics: ServiceMetrics): void {
  app.get('/health/live', () => ({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    const report = await runtime.readiness();
    return reply.status(report.ready ? 200 : 503).send({ status: report.ready ? 'ok' : 'unavailable', checks: report.checks });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metricsText()));
}

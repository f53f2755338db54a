import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ServiceMetrics } from '@homiwork/observability';
import { ServiceRuntime } from './service-runtime.js';

/** Liveness, readiness and Prometheus metrics: the endpoints orchestrators and SREs poll. */
@Controller()
export class OpsController {
  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly metrics: ServiceMetrics,
  ) {}

  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: 'ok' | 'unavailable'; checks: Record<string, string> }> {
    const report = await this.runtime.readiness();
    if (!report.ready) reply.status(503);
    return { status: report.ready ? 'ok' : 'unavailable', checks: report.checks };
  }

  @Get('metrics')
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    reply.header('content-type', this.metrics.contentType);
    return this.metrics.metricsText();
  }
}

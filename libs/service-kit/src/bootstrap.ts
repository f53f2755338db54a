import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LoggerService } from '@nestjs/common';
import type { BaseServiceConfig } from '@homiwork/config';
import { initTracing, registerHttpMetrics, ServiceMetrics, type Logger } from '@homiwork/observability';
import { LOGGER } from './tokens.js';

/** Nest's own messages go through the service's scrubbing JSON logger, not the console. */
class NestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
}

export interface StartedService {
  app: NestFastifyApplication;
  /** The address the HTTP listener bound (the port is chosen by the OS when configured as 0). */
  url: string;
  close(): Promise<void>;
}

/**
 * Builds the service's Nest application on Fastify and listens on its port: the ops port
 * for internal services, the public port for the gateway.
 */
export async function startService(
  rootModule: unknown,
  config: BaseServiceConfig & { SERVICE_NAME?: string },
  options: { service: string; port?: number; host?: string; bodyLimit?: number; configure?: (app: NestFastifyApplication) => Promise<void> | void },
): Promise<StartedService> {
  const tracing = initTracing({ service: options.service, ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT } : {}) });
  const adapter = new FastifyAdapter({ logger: false, bodyLimit: options.bodyLimit ?? 64 * 1024, trustProxy: false });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule as never, adapter, { bufferLogs: true, abortOnError: false });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new NestLogger(logger));
  registerHttpMetrics(app.getHttpAdapter().getInstance(), app.get(ServiceMetrics));
  await options.configure?.(app);
  app.enableShutdownHooks();
  await app.listen(options.port ?? config.OPS_PORT, options.host ?? config.OPS_HOST);
  const url = await app.getUrl();
  return {
    app,
    url: url.replace('[::1]', '127.0.0.1'),
    close: async () => {
      await app.close();
      await tracing.shutdown();
    },
  };
}

import Fastify from 'fastify';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LoggerService } from '@nestjs/common';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { BaseServiceConfig } from '@homiwork/config';
import { initTracing, registerHttpMetrics, ServiceMetrics, type Logger } from '@homiwork/observability';
import { registerOpsRoutes } from './ops-routes.js';
import { installProcessSafetyNet, type ProcessSafetyNet } from './process-safety-net.js';
import type { NatsJetStreamServerOptions } from './nats-jetstream.server.js';
import { ServiceRuntime } from './service-runtime.js';
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

export interface PublicHttpOptions {
  port: number;
  host: string;
  bodyLimit?: number;
  /** Fastify's trustProxy: which forwarded-for hops to believe (the gateway only). */
  trustProxy?: boolean | string | string[];
  configure?: (app: NestFastifyApplication) => Promise<void> | void;
}

export interface StartedService {
  app: NestFastifyApplication;
  /** Public API address (the gateway) or, for internal services, the ops address. */
  url: string;
  opsUrl: string;
  close(): Promise<void>;
}

/**
 * Builds the service's Nest application on Fastify. Internal services listen only on the
 * ops port (health, metrics). A public service (the gateway) listens on its public port
 * and serves health and metrics on a separate ops listener, so /metrics is never public.
 */
/**
 * The longest a client may take to send one whole request, body included. Fastify's default
 * (0) turns off Node's own limit, so a client trickling a body a byte at a time would hold
 * its connection for ever — on public routes that need no login, such as the processors'
 * webhook. Five minutes (Node's default) still lets a 200 MB upload arrive at 6 Mbit/s.
 */
export const HTTP_REQUEST_TIMEOUT_MS = 300_000;

export async function startService(
  rootModule: unknown,
  config: BaseServiceConfig,
  options: {
    service: string;
    public?: PublicHttpOptions;
    /** For an internal service: routes or parsers to add to its (ops-port) listener. */
    configure?: (app: NestFastifyApplication) => Promise<void> | void;
    /** Consumer tuning for tests (short ack wait, fast pending-gauge refresh); production keeps the defaults. */
    transport?: Pick<NatsJetStreamServerOptions, 'consumer' | 'pendingRefreshMs'>;
  },
): Promise<StartedService> {
  const tracing = initTracing({ service: options.service, ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT } : {}) });
  const publicHttp = options.public;
  const adapter = new FastifyAdapter({ logger: false, bodyLimit: publicHttp?.bodyLimit ?? 64 * 1024, trustProxy: publicHttp?.trustProxy ?? false, requestTimeout: HTTP_REQUEST_TIMEOUT_MS });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule as never, adapter, { bufferLogs: true, abortOnError: false });
  app.useLogger(new NestLogger(app.get<Logger>(LOGGER)));
  const metrics = app.get(ServiceMetrics);
  const runtime = app.get(ServiceRuntime);
  const logger = app.get<Logger>(LOGGER);
  // One request's unawaited failure must not take the process (and every request in it) down.
  const caught = metrics.counter({ name: 'process_uncaught_failures_total', help: 'Failures no code caught, by kind (logged; a rejection is survived, an exception restarts the process)', labelNames: ['kind'] as const });
  for (const kind of ['unhandled_rejection', 'uncaught_exception'] as const) caught.inc({ kind }, 0);
  const safetyNet: ProcessSafetyNet = installProcessSafetyNet({ logger, shutdown: () => app.close(), onCaught: (kind) => caught.inc({ kind }) });
  const nestFastify = app.getHttpAdapter().getInstance();
  registerHttpMetrics(nestFastify, metrics);
  // Handlers are served by the NATS/JetStream transport connected to this (hybrid) app.
  // On close Nest stops it before the runtime's shutdown hook stops the relay, drains
  // NATS and closes the database, so nothing is served on a closing connection.
  app.connectMicroservice<MicroserviceOptions>({ strategy: runtime.createTransport(options.transport) });
  app.enableShutdownHooks();

  let ops = nestFastify;
  if (publicHttp) {
    ops = Fastify({ logger: false, requestTimeout: HTTP_REQUEST_TIMEOUT_MS });
    registerHttpMetrics(ops, metrics);
    await publicHttp.configure?.(app);
  } else {
    await options.configure?.(app);
  }
  registerOpsRoutes(ops, runtime, metrics);

  // Migrations, streams and the relay first (bootstrap hooks), then the handlers, then the
  // listeners: readiness is not answered before requests and events can be.
  await app.init();
  await app.startAllMicroservices();
  let url: string;
  let opsUrl: string;
  if (publicHttp) {
    await app.listen(publicHttp.port, publicHttp.host);
    url = await app.getUrl();
    opsUrl = await ops.listen({ port: config.OPS_PORT, host: config.OPS_HOST });
  } else {
    await app.listen(config.OPS_PORT, config.OPS_HOST);
    url = opsUrl = await app.getUrl();
  }
  const local = (address: string) => address.replace('[::1]', '127.0.0.1');
  return {
    app,
    url: local(url),
    opsUrl: local(opsUrl),
    close: async () => {
      safetyNet.uninstall();
      await app.close();
      if (ops !== nestFastify) await ops.close();
      await tracing.shutdown();
    },
  };
}

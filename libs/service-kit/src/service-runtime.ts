import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { PATTERN_EXTRAS_METADATA, PATTERN_HANDLER_METADATA, PATTERN_METADATA, TRANSPORT_METADATA } from '@nestjs/microservices/constants.js';
import { PatternHandler } from '@nestjs/microservices/enums/pattern-handler.enum.js';
import type { MessageHandler } from '@nestjs/microservices';
import type { Subscription } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { Clock, ShiftableClock } from '@homiwork/clock';
import { DEFAULT_STREAM_LIMITS, MessagingMetrics, OutboxRelay, verifyStreams, type NatsHandles } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { runMigrations, schemaOf } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { listenForClockMoves } from './clock-control.js';
import { NATS_JETSTREAM_TRANSPORT } from './decorators.js';
import { NatsJetStreamServer, type NatsJetStreamServerOptions } from './nats-jetstream.server.js';
import type { ServiceKitOptions } from './service-kit.options.js';
import { LOGGER, NATS, SERVICE_CONFIG } from './tokens.js';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'failing'>;
}

/**
 * Brings what a service stands on up in order — migrations, bucket, streams, outbox
 * relay, clock control — after Nest has built the providers, and down in reverse after
 * the transport (NatsJetStreamServer, which serves the handlers) has stopped: Nest closes
 * connected microservices before it calls shutdown hooks.
 */
@Injectable()
export class ServiceRuntime implements OnApplicationBootstrap, OnApplicationShutdown {
  private relay: OutboxRelay | undefined;
  private clockSubscription: Subscription | undefined;
  private transport: NatsJetStreamServer | undefined;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly options: ServiceKitOptions,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(NATS) private readonly nats: NatsHandles,
    private readonly metrics: MessagingMetrics,
    private readonly clock: Clock,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Optional() private readonly dataSource?: DataSource,
    @Optional() private readonly objectStore?: ObjectStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { config } = this.options;
    const namespace = config.EVENT_NAMESPACE;
    if (this.dataSource) {
      const applied = await runMigrations(this.dataSource);
      if (applied.length > 0) this.logger.info({ migrations: applied }, 'migrations applied');
    }
    await this.objectStore?.ensureBucket();
    // Migrate provisions the streams; a service only checks they are there (see libs/messaging/src/provisioning.ts).
    await verifyStreams(this.nats.jsm, namespace, { ...DEFAULT_STREAM_LIMITS, maxBytes: config.EVENT_STREAM_MAX_BYTES });
    if (this.dataSource) {
      const batchSize = (config as { OUTBOX_RELAY_BATCH_SIZE?: number }).OUTBOX_RELAY_BATCH_SIZE;
      this.relay = new OutboxRelay({ dataSource: this.dataSource, schema: schemaOf(this.dataSource), publisher: this.options.service, js: this.nats.js, logger: this.logger, metrics: this.metrics, ...(batchSize ? { batchSize } : {}) });
      await this.relay.start();
    }
    if (config.CLOCK_CONTROL === 'enabled' && this.clock instanceof ShiftableClock) {
      this.clockSubscription = listenForClockMoves(this.nats.nc, namespace, this.clock);
    }
    this.logger.debug('migrations, streams and relay ready');
  }

  async onApplicationShutdown(): Promise<void> {
    this.clockSubscription?.unsubscribe();
    await this.relay?.stop();
    await this.nats.nc.drain().catch(() => undefined);
    if (this.dataSource?.isInitialized) await this.dataSource.destroy();
  }

  /**
   * The transport that serves this service's handlers, for `app.connectMicroservice({ strategy })`.
   * Nest binds pattern handlers declared on controllers itself (with guards, pipes,
   * interceptors and filters); handlers declared on providers — where @OnRpc/@OnEvent
   * classes have lived so far — are added here, called directly, so both keep working.
   */
  createTransport(overrides: Pick<NatsJetStreamServerOptions, 'consumer' | 'pendingRefreshMs'> = {}): NatsJetStreamServer {
    const server = new NatsJetStreamServer({
      service: this.options.service,
      namespace: this.options.config.EVENT_NAMESPACE,
      nats: this.nats,
      logger: this.logger,
      metrics: this.metrics,
      dataSource: this.dataSource,
      readiness: () => this.readiness(),
      ...overrides,
    });
    for (const { pattern, handler, isEvent, extras } of this.providerPatternHandlers()) server.addHandler(pattern, handler as MessageHandler, isEvent, extras);
    this.transport = server;
    return server;
  }

  async readiness(): Promise<ReadinessReport> {
    const checks: Record<string, () => Promise<unknown>> = { nats: () => this.nats.nc.rtt() };
    if (this.dataSource) checks.database = () => this.dataSource!.query('SELECT 1');
    if (this.transport?.consumerCount) {
      // A consumer holding events because a dependency is away: not ready, even if the dependency just came back and it has not caught up.
      checks.events = () => {
        const waiting = this.transport?.consumersWaitingForDependency() ?? [];
        return waiting.length === 0 ? Promise.resolve() : Promise.reject(new Error(`waiting: ${waiting.join(', ')}`));
      };
    }
    if (this.objectStore) {
      checks.storage = async () => {
        if (!(await this.objectStore!.ping())) throw new Error('storage unreachable');
      };
    }
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await withTimeout(check(), 2_000).then(() => 'ok' as const, () => 'failing' as const)] as const),
    );
    return { ready: results.every(([, result]) => result === 'ok'), checks: Object.fromEntries(results) };
  }

  /** Methods of providers (not controllers, which Nest binds) marked with a pattern for this transport, bound to their instance. */
  private providerPatternHandlers(): Array<{ pattern: string; handler: (...args: never[]) => Promise<unknown>; isEvent: boolean; extras: Record<string, unknown> }> {
    const found: Array<{ pattern: string; handler: (...args: never[]) => Promise<unknown>; isEvent: boolean; extras: Record<string, unknown> }> = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = instance[name];
        if (typeof method !== 'function') continue;
        const kind = Reflect.getMetadata(PATTERN_HANDLER_METADATA, method) as PatternHandler | undefined;
        if (kind === undefined || Reflect.getMetadata(TRANSPORT_METADATA, method) !== NATS_JETSTREAM_TRANSPORT) continue;
        const handler = (method as (...args: never[]) => Promise<unknown>).bind(instance);
        const extras = (Reflect.getMetadata(PATTERN_EXTRAS_METADATA, method) as Record<string, unknown> | undefined) ?? {};
        for (const pattern of Reflect.getMetadata(PATTERN_METADATA, method) as string[]) found.push({ pattern, handler, isEvent: kind === PatternHandler.EVENT, extras });
      }
    }
    return found;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

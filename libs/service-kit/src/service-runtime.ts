import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Subscription } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { Clock, ShiftableClock } from '@homiwork/clock';
import { systemReadyRoute, type ConsumerContract, type RpcRoute } from '@homiwork/contracts';
import { DEFAULT_STREAM_LIMITS, EventConsumer, MessagingMetrics, OutboxRelay, provisionStreams, RpcServer, type EventHandler, type NatsHandles, type RpcHandler } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { runMigrations, schemaOf } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { listenForClockMoves } from './clock-control.js';
import { EVENT_HANDLER_METADATA, RPC_HANDLER_METADATA } from './decorators.js';
import type { ServiceKitOptions } from './service-kit.options.js';
import { LOGGER, NATS, SERVICE_CONFIG } from './tokens.js';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'failing'>;
}

/**
 * Brings a service's messaging up in order — migrations, streams, request handlers,
 * consumers, outbox relay — after Nest has built the providers, and down in reverse.
 */
@Injectable()
export class ServiceRuntime implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly consumers: Array<EventConsumer<never>> = [];
  private rpcServer: RpcServer | undefined;
  private relay: OutboxRelay | undefined;
  private clockSubscription: Subscription | undefined;

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
    const { config, service } = this.options;
    const namespace = config.EVENT_NAMESPACE;
    if (this.dataSource) {
      const applied = await runMigrations(this.dataSource);
      if (applied.length > 0) this.logger.info({ migrations: applied }, 'migrations applied');
    }
    await this.objectStore?.ensureBucket();
    await provisionStreams(this.nats.jsm, namespace, { ...DEFAULT_STREAM_LIMITS, maxBytes: config.EVENT_STREAM_MAX_BYTES });

    this.rpcServer = new RpcServer(this.nats.nc, namespace, service, this.logger, this.metrics);
    this.rpcServer.serve(systemReadyRoute(service), () => this.readiness());
    for (const { route, handler } of this.discover<RpcRoute>(RPC_HANDLER_METADATA)) this.rpcServer.serve(route, handler as RpcHandler<RpcRoute>);

    const eventHandlers = this.discover<ConsumerContract>(EVENT_HANDLER_METADATA);
    if (eventHandlers.length > 0 && !this.dataSource) throw new Error(`${service} handles events but has no database for its inbox`);
    for (const { route: contract, handler } of eventHandlers) {
      const consumer = new EventConsumer({
        contract,
        handler: handler as EventHandler<never>,
        namespace,
        dataSource: this.dataSource!,
        schema: schemaOf(this.dataSource!),
        js: this.nats.js,
        jsm: this.nats.jsm,
        logger: this.logger,
        metrics: this.metrics,
      });
      await consumer.start();
      this.consumers.push(consumer as EventConsumer<never>);
    }

    if (this.dataSource) {
      this.relay = new OutboxRelay({ dataSource: this.dataSource, schema: schemaOf(this.dataSource), js: this.nats.js, logger: this.logger, metrics: this.metrics });
      await this.relay.start();
    }
    if (config.CLOCK_CONTROL === 'enabled' && this.clock instanceof ShiftableClock) {
      this.clockSubscription = listenForClockMoves(this.nats.nc, namespace, this.clock);
    }
    this.logger.info({ consumers: this.consumers.length }, 'service started');
  }

  async onApplicationShutdown(): Promise<void> {
    this.clockSubscription?.unsubscribe();
    await this.rpcServer?.stop();
    await Promise.all(this.consumers.map((consumer) => consumer.stop()));
    await this.relay?.stop();
    await this.nats.nc.drain().catch(() => undefined);
    if (this.dataSource?.isInitialized) await this.dataSource.destroy();
  }

  async readiness(): Promise<ReadinessReport> {
    const checks: Record<string, () => Promise<unknown>> = { nats: () => this.nats.nc.rtt() };
    if (this.dataSource) checks.database = () => this.dataSource!.query('SELECT 1');
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

  /** Every provider method carrying the given metadata, bound to its instance. */
  private discover<T>(metadataKey: string): Array<{ route: T; handler: (...args: never[]) => Promise<unknown> }> {
    const found: Array<{ route: T; handler: (...args: never[]) => Promise<unknown> }> = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = instance[name];
        if (typeof method !== 'function') continue;
        const route = Reflect.getMetadata(metadataKey, method) as T | undefined;
        if (route) found.push({ route, handler: (method as (...args: never[]) => Promise<unknown>).bind(instance) });
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

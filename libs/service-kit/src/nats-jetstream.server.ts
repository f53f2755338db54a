import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import { isObservable, lastValueFrom } from 'rxjs';
import type { DataSource } from 'typeorm';
import { systemReadyRoute, type ConsumerContract, type RpcRoute, type ServiceName } from '@homiwork/contracts';
import { ConsumerPendingGauge, EventConsumer, RpcServer, type EventHandler, type MessagingMetrics, type NatsHandles } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { schemaOf } from '@homiwork/persistence';
import { CONSUMER_EXTRA, NATS_JETSTREAM_TRANSPORT, ROUTE_EXTRA } from './decorators.js';

export interface NatsJetStreamServerOptions {
  service: ServiceName;
  namespace: string;
  nats: NatsHandles;
  logger: Logger;
  metrics: MessagingMetrics;
  /** The service's database, which holds the consumers' inbox; required as soon as one event handler exists. */
  dataSource?: DataSource | undefined;
  /** Answers `system.ready`, the readiness the gateway aggregates. */
  readiness: () => Promise<unknown>;
  /** Consumer tuning; production keeps EventConsumer's defaults. */
  consumer?: { batchSize?: number; ackWaitMs?: number; dependencyRetry?: { initialMs: number; maxMs: number } };
  /** How often consumer_pending_messages is refreshed. */
  pendingRefreshMs?: number;
}

/**
 * The service's NATS interface as a Nest transport: every `@OnRpc` (`@MessagePattern`)
 * handler is served by RpcServer on the route's subject — request and response checked
 * by the route's schemas, the caller context passed second, errors mapped to the reply
 * body — and every `@OnEvent` (`@EventPattern`) handler by a durable EventConsumer
 * (batch transaction with the idempotent inbox, ack after commit, backoff, dead letters).
 * The contracts bound by the decorators are the source of subjects and schemas; the
 * pattern string is only the key Nest files the handler under.
 */
export class NatsJetStreamServer extends Server implements CustomTransportStrategy {
  // Handler failures come back to us (and so to the retry/dead-letter logic), not to Nest's logger.
  override readonly propagatesEventHandlerErrors = true;
  private rpcServer: RpcServer | undefined;
  private consumers: Array<EventConsumer<never>> = [];
  private pendingGauge: ConsumerPendingGauge | undefined;
  /** Patterns of request handlers registered more than once: refused at start (Nest would keep only the last). */
  private readonly duplicateRoutes = new Set<string>();

  constructor(private readonly options: NatsJetStreamServerOptions) {
    super();
    this.transportId = NATS_JETSTREAM_TRANSPORT;
  }

  /**
   * Nest files a second request handler for a pattern over the first one, silently: the
   * route would be served by whichever was bound last. Noted here, refused at start.
   */
  override addHandler(pattern: unknown, callback: MessageHandler, isEventHandler = false, extras: Record<string, unknown> = {}): void {
    const normalized = this.normalizePattern(pattern as never);
    if (!isEventHandler && this.messageHandlers.has(normalized)) this.duplicateRoutes.add(normalized);
    super.addHandler(pattern, callback, isEventHandler, extras);
  }

  /** Called by `app.startAllMicroservices()`; Nest turns a callback error into a rejected start. */
  listen(callback: (error?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  /** Called when the app closes, before the runtime stops the relay, drains NATS and closes the database. */
  async close(): Promise<void> {
    await this.pendingGauge?.stop();
    // Stop taking requests first (drain lets in-flight ones answer), then let consumers finish their batch and ack.
    await this.rpcServer?.stop();
    await Promise.all(this.consumers.map((consumer) => consumer.stop()));
    this.consumers = [];
    this.rpcServer = undefined;
    this.pendingGauge = undefined;
  }

  on(): never {
    throw new Error('NatsJetStreamServer has no events to listen to; use the readiness route and metrics');
  }

  unwrap<T = NatsConnection>(): T {
    return this.options.nats.nc as T;
  }

  /** How many durable consumers are running. */
  get consumerCount(): number {
    return this.consumers.length;
  }

  /** Consumers holding their messages until the database or NATS answers again (readiness is red meanwhile). */
  consumersWaitingForDependency(): string[] {
    return this.consumers.filter((consumer) => consumer.waitingForDependency).map((consumer) => consumer.name);
  }

  private async start(): Promise<void> {
    const { nats, namespace, service, logger, metrics, dataSource } = this.options;
    const { routes, consumers } = this.boundHandlers();
    if (consumers.length > 0 && !dataSource) throw new Error(`${service} handles events but has no database for its inbox`);
    const rpcServer = new RpcServer(nats.nc, namespace, service, logger, metrics);
    this.rpcServer = rpcServer;
    rpcServer.serve(systemReadyRoute(service), () => this.options.readiness() as never);
    for (const { route, handler } of routes) rpcServer.serve(route, (request, caller) => settle(handler(request, caller)));
    for (const { contract, handler } of consumers) {
      const consumer = new EventConsumer({
        contract,
        handler: ((payload, context) => settle(handler(payload, context))) as EventHandler<never>,
        namespace,
        dataSource: dataSource!,
        schema: schemaOf(dataSource!),
        js: nats.js,
        jsm: nats.jsm,
        logger,
        metrics,
        ...this.options.consumer,
      });
      await consumer.start();
      this.consumers.push(consumer as EventConsumer<never>);
    }
    const contracts = consumers.map(({ contract }) => contract);
    this.pendingGauge = new ConsumerPendingGauge({ jsm: nats.jsm, namespace, consumers: contracts, metrics, logger, ...(this.options.pendingRefreshMs ? { intervalMs: this.options.pendingRefreshMs } : {}) });
    this.pendingGauge.start();
    logger.info({ routes: routes.length, consumers: consumers.length }, 'service started');
  }

  /** Every registered handler with the contract its decorator bound; refuses, before anything starts, one that has none. */
  private boundHandlers(): { routes: Array<{ route: RpcRoute; handler: MessageHandler }>; consumers: Array<{ contract: ConsumerContract; handler: MessageHandler }> } {
    const routes: Array<{ route: RpcRoute; handler: MessageHandler }> = [];
    const consumers: Array<{ contract: ConsumerContract; handler: MessageHandler }> = [];
    // One handler per route: a second would have silently replaced the first.
    for (const pattern of this.duplicateRoutes) throw new Error(`${pattern} has more than one @OnRpc handler; a route has one handler`);
    for (const [pattern, handler] of this.getHandlers()) {
      if (handler.isEventHandler) {
        const contract = handler.extras?.[CONSUMER_EXTRA] as ConsumerContract | undefined;
        if (!contract) throw new Error(`@EventPattern('${pattern}') is not bound to a consumer contract; declare it with @OnEvent(consumer)`);
        // One durable consumer per (service, event): Nest would chain a second handler into the first one's transaction.
        if (handler.next) throw new Error(`${pattern} has more than one @OnEvent handler; a service has one consumer per event`);
        consumers.push({ contract, handler });
      } else {
        const route = handler.extras?.[ROUTE_EXTRA] as RpcRoute | undefined;
        if (!route) throw new Error(`@MessagePattern('${pattern}') is not bound to a route contract; declare it with @OnRpc(route)`);
        routes.push({ route, handler });
      }
    }
    return { routes, consumers };
  }
}

/**
 * What a Nest pattern handler returns — a promise of a value, or of an observable when
 * interceptors are bound or the handler failed (the filter rethrows as an observable
 * error) — as a plain promise whose rejection is the handler's own error.
 */
async function settle<T>(result: ReturnType<MessageHandler>): Promise<T> {
  const value: unknown = await result;
  return (isObservable(value) ? await lastValueFrom(value, { defaultValue: undefined }) : value) as T;
}

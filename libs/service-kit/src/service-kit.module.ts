import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { Clock, ShiftableClock, SystemClock } from '@homiwork/clock';
import { connectToNats, EventsOutbox, MessagingMetrics, Outbox, RpcClient, type NatsHandles } from '@homiwork/messaging';
import { createLogger, ServiceMetrics, type Logger } from '@homiwork/observability';
import { createServiceDataSource, Database, schemaOf, Transactor, TRANSACTION_PROVIDERS, USER_TOMBSTONES_PROVIDER, UserTombstones } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { LegalHolds } from './legal-holds.js';
import { NatsRpcClientProxy } from './nats-rpc-client.proxy.js';
import type { ServiceKitOptions } from './service-kit.options.js';
import { ServiceRuntime } from './service-runtime.js';
import { LOGGER, NATS, SERVICE_CONFIG } from './tokens.js';

/**
 * Everything a service stands on, as injectable providers: config, clock, logger,
 * metrics, its own DataSource, NATS, outbox, RPC client (plain and as a Nest
 * ClientProxy), object store — plus the runtime that migrates, provisions and relays,
 * and builds the transport that serves the @OnEvent / @OnRpc handlers.
 */
@Module({})
export class ServiceKitModule {
  static forRoot(options: ServiceKitOptions): DynamicModule {
    const { config, service } = options;
    const providers: Provider[] = [
      { provide: SERVICE_CONFIG, useValue: options },
      { provide: LOGGER, useValue: options.logger ?? createLogger({ service, level: config.LOG_LEVEL }) },
      // Test mode gets a clock the end-to-end suite can move; production the plain system clock.
      { provide: Clock, useValue: config.CLOCK_CONTROL === 'enabled' ? new ShiftableClock() : new SystemClock() },
      { provide: ServiceMetrics, useValue: new ServiceMetrics(service) },
      { provide: MessagingMetrics, inject: [ServiceMetrics], useFactory: (metrics: ServiceMetrics) => new MessagingMetrics(metrics) },
      { provide: NATS, useFactory: () => connectToNats(config.NATS_URL, service, { user: config.NATS_USER, password: config.NATS_PASSWORD }) },
      { provide: RpcClient, inject: [NATS], useFactory: (nats: NatsHandles) => new RpcClient(nats.nc, config.EVENT_NAMESPACE, config.RPC_TIMEOUT_MS) },
      {
        // The framework-shaped client: send() is RpcClient's request/reply, emit() appends to the outbox in the ambient transaction.
        provide: NatsRpcClientProxy,
        inject: [NATS, { token: Outbox, optional: true }, { token: DataSource, optional: true }],
        useFactory: (nats: NatsHandles, outbox?: Outbox, dataSource?: DataSource) => {
          const ambient = dataSource && { transactor: new Transactor(dataSource), database: new Database(dataSource) };
          return new NatsRpcClientProxy({
            nc: nats.nc,
            namespace: config.EVENT_NAMESPACE,
            defaultTimeoutMs: config.RPC_TIMEOUT_MS,
            ...(outbox && ambient ? { outbox: { outbox, currentTransaction: () => (ambient.transactor.active ? ambient.database.manager : undefined) } } : {}),
          });
        },
      },
      ServiceRuntime,
      LegalHolds,
    ];
    const exported: Array<string | symbol | Provider | (abstract new (...args: never[]) => unknown)> = [SERVICE_CONFIG, LOGGER, Clock, ServiceMetrics, MessagingMetrics, NATS, RpcClient, NatsRpcClientProxy, LegalHolds];
    if (options.migrations) {
      const databaseUrl = config.DATABASE_URL;
      if (!databaseUrl) throw new Error(`${service} has migrations but no DATABASE_URL`);
      providers.push(
        {
          provide: DataSource,
          useFactory: async () => {
            const dataSource = createServiceDataSource({ databaseUrl, schema: service, migrations: options.migrations!, entities: options.entities ?? [] });
            return dataSource.initialize();
          },
        },
        { provide: Outbox, inject: [DataSource, Clock], useFactory: (dataSource: DataSource, clock: Clock) => new Outbox(schemaOf(dataSource), config.EVENT_NAMESPACE, clock, service) },
        // What use cases and repositories stand on: the transaction port, the ambient
        // connection, the events outbox in the same transaction, and the tombstones that
        // keep a deleted user's data from coming back.
        ...TRANSACTION_PROVIDERS,
        USER_TOMBSTONES_PROVIDER,
        { provide: EventsOutbox, inject: [Outbox, Database], useFactory: (outbox: Outbox, db: Database) => new EventsOutbox(outbox, db) },
      );
      exported.push(DataSource, Outbox, Transactor, Database, UserTombstones, EventsOutbox);
    }
    if (options.storage) {
      const storage = options.storage;
      providers.push({ provide: ObjectStore, useFactory: () => new ObjectStore(storage, { service }) });
      exported.push(ObjectStore);
    }
    return {
      module: ServiceKitModule,
      global: true,
      imports: [DiscoveryModule],
      providers,
      exports: exported,
    };
  }
}

export type { Logger };

import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { Clock, ShiftableClock, SystemClock } from '@homiwork/clock';
import { connectToNats, MessagingMetrics, Outbox, RpcClient, type NatsHandles } from '@homiwork/messaging';
import { createLogger, ServiceMetrics, type Logger } from '@homiwork/observability';
import { createServiceDataSource, schemaOf } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import type { ServiceKitOptions } from './service-kit.options.js';
import { ServiceRuntime } from './service-runtime.js';
import { LOGGER, NATS, SERVICE_CONFIG } from './tokens.js';

/**
 * Everything a service stands on, as injectable providers: config, clock, logger,
 * metrics, its own DataSource, NATS, outbox, RPC client, object store — plus the runtime that starts consumers and request handlers found on
 * @OnEvent / @OnRpc methods.
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
      { provide: NATS, useFactory: () => connectToNats(config.NATS_URL, service) },
      { provide: RpcClient, inject: [NATS], useFactory: (nats: NatsHandles) => new RpcClient(nats.nc, config.EVENT_NAMESPACE) },
      ServiceRuntime,
    ];
    const exported: Array<string | symbol | Provider | (abstract new (...args: never[]) => unknown)> = [SERVICE_CONFIG, LOGGER, Clock, ServiceMetrics, MessagingMetrics, NATS, RpcClient];
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
        { provide: Outbox, inject: [DataSource, Clock], useFactory: (dataSource: DataSource, clock: Clock) => new Outbox(schemaOf(dataSource), config.EVENT_NAMESPACE, clock) },
      );
      exported.push(DataSource, Outbox);
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

/** What a service process brings to the pipeline's relay and consumer: logger, pool, NATS, metrics. */
import type { DataSource } from 'typeorm';
import { connectToNats, MessagingMetrics, type NatsHandles } from '@homiwork/messaging';
import { createLogger, ServiceMetrics, type Logger } from '@homiwork/observability';
import { createServiceDataSource } from '@homiwork/persistence';
import type { WorkerSettings } from './protocol.js';

export interface ServiceSide {
  logger: Logger;
  dataSource: DataSource;
  nats: NatsHandles;
  metrics: MessagingMetrics;
  schema: string;
  close: () => Promise<void>;
}

export async function openServiceSide(settings: WorkerSettings, poolSize: number): Promise<ServiceSide> {
  const label = `events-bench-${settings.name}`;
  const logger = createLogger({ service: label, level: 'warn', destination: process.stderr });
  const dataSource = createServiceDataSource({ databaseUrl: settings.databaseUrl!, schema: settings.schema!, migrations: [], poolSize, applicationName: label });
  await dataSource.initialize();
  const nats = await connectToNats(settings.natsUrl, label);
  return {
    logger,
    dataSource,
    nats,
    metrics: new MessagingMetrics(new ServiceMetrics(label)),
    schema: settings.schema!,
    close: async () => {
      await nats.nc.drain();
      await dataSource.destroy();
    },
  };
}

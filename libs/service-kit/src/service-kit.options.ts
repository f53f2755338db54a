import type { EntitySchema, MigrationInterface } from 'typeorm';
import type { BaseServiceConfig } from '@homiwork/config';
import type { ServiceName } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import type { StorageConfig } from '@homiwork/storage';

export interface ServiceKitOptions {
  service: ServiceName;
  config: BaseServiceConfig & { DATABASE_URL?: string | undefined };
  /** The service's migrations, CreateMessagingTables first; absent for a service without a database (the gateway). */
  migrations?: Array<new () => MigrationInterface>;
  entities?: Array<(new (...args: never[]) => unknown) | EntitySchema>;
  /** Given for services that keep objects (media, generation, retention). */
  storage?: StorageConfig;
  /** Tests pass a logger that captures lines. */
  logger?: Logger;
}

import { DataSource, type EntitySchema, type MigrationInterface } from 'typeorm';

type EntityTarget = (new (...args: never[]) => unknown) | EntitySchema;

export interface ServiceDataSourceOptions {
  databaseUrl: string;
  /** The service's own schema; it reads and writes nowhere else (R8.1). */
  schema: string;
  entities?: EntityTarget[];
  migrations: Array<new () => MigrationInterface>;
  poolSize?: number;
  applicationName?: string;
}

const SCHEMA_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * One TypeORM DataSource per service, bound to the service's schema: unqualified SQL
 * resolves there (search_path), entities and the migrations table live there, and the
 * schema is changed by migrations only — `synchronize` stays off in every environment.
 */
export function createServiceDataSource(options: ServiceDataSourceOptions): DataSource {
  if (!SCHEMA_NAME.test(options.schema)) throw new Error(`invalid schema name: ${options.schema}`);
  return new DataSource({
    type: 'postgres',
    url: options.databaseUrl,
    schema: options.schema,
    entities: options.entities ?? [],
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: options.poolSize ?? 10,
      application_name: options.applicationName ?? options.schema,
      options: `-c search_path=${options.schema}`,
    },
  });
}

/**
 * Creates the schema if needed and applies pending migrations, each in its own
 * transaction, under an advisory lock so instances starting together migrate once.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const schema = schemaOf(dataSource);
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`migrations:${schema}`]);
    await lock.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`migrations:${schema}`]).catch(() => undefined);
    await lock.release();
  }
}

export function schemaOf(dataSource: DataSource): string {
  const schema = (dataSource.options as { schema?: string }).schema;
  if (!schema) throw new Error('data source has no schema');
  return schema;
}

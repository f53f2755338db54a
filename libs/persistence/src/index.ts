export { createServiceDataSource, runMigrations, schemaOf, type ServiceDataSourceOptions } from './data-source.js';
export { Database, Transactor, TRANSACTION_PROVIDERS, withinTransaction } from './transactor.js';

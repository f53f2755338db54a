export { createServiceDataSource, runMigrations, schemaOf, type ServiceDataSourceOptions } from './data-source.js';

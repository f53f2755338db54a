export { createServiceDataSource, runMigrations, schemaOf, type ServiceDataSourceOptions } from './data-source.js';
export { Database, Transactor, TRANSACTION_PROVIDERS, withinTransaction } from './transactor.js';
export { CreateTombstones1765000000000, USER_TOMBSTONES_PROVIDER, UserErased, UserTombstones } from './user-tombstones.js';
export { CreateProcessingRestrictions1766100000000, PROCESSING_RESTRICTION_PROVIDERS, ProcessingRestrictionsRepository, RecordRestriction } from './processing-restrictions.js';

export { createTestDatabase, createTestNamespace, type TestDatabase } from './test-database.js';
export { TEST_ADMIN_DATABASE_URL, TEST_NATS_URL, randomId, databaseUrl, withAdminClient } from './infrastructure.js';
export { eventually } from './eventually.js';

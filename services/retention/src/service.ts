import type { ServiceDescriptor } from '@homiwork/system-runner';
import { retentionConfigSchema } from './config.js';
import { RETENTION_MIGRATIONS } from './migrations/index.js';

/** Retention's entry in the service manifest: how its environment is checked and its schema migrated. */
export const descriptor: ServiceDescriptor = { configSchema: retentionConfigSchema, migrations: RETENTION_MIGRATIONS };

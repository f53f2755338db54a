import type { ServiceDescriptor } from '@homiwork/system-runner';
import { identityConfigSchema } from './config.js';
import { IDENTITY_MIGRATIONS } from './migrations/index.js';

/** Identity's entry in the service manifest: how its environment is checked and its schema migrated. */
export const descriptor: ServiceDescriptor = { configSchema: identityConfigSchema, migrations: IDENTITY_MIGRATIONS };

import type { ServiceDescriptor } from '@homiwork/system-runner';
import { mediaConfigSchema } from './config.js';
import { MEDIA_MIGRATIONS } from './migrations/index.js';

/** Media's entry in the service manifest: how its environment is checked and its schema migrated. */
export const descriptor: ServiceDescriptor = { configSchema: mediaConfigSchema, migrations: MEDIA_MIGRATIONS };

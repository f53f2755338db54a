import type { ServiceDescriptor } from '@homiwork/system-runner';
import { generationConfigSchema } from './config.js';
import { GENERATION_MIGRATIONS } from './migrations/index.js';

/** Generation's entry in the service manifest: how its environment is checked and its schema migrated. */
export const descriptor: ServiceDescriptor = { configSchema: generationConfigSchema, migrations: GENERATION_MIGRATIONS };

import type { ServiceDescriptor } from '@homiwork/system-runner';
import { chatConfigSchema } from './config.js';
import { CHAT_MIGRATIONS } from './migrations/index.js';

/** Chat's entry in the service manifest: how its environment is checked and its schema migrated. */
export const descriptor: ServiceDescriptor = { configSchema: chatConfigSchema, migrations: CHAT_MIGRATIONS };

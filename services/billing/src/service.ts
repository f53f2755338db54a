import type { ServiceDescriptor } from '@homiwork/system-runner';
import { billingConfigSchema } from './config.js';
import { BILLING_MIGRATIONS } from './migrations/index.js';

/** Billing's entry in the service manifest: how its environment is checked and its schema migrated. */
export const descriptor: ServiceDescriptor = { configSchema: billingConfigSchema, migrations: BILLING_MIGRATIONS };

import type { ServiceDescriptor } from '@homiwork/system-runner';
import { gatewayConfigSchema } from './config.js';

/** The gateway's entry in the service manifest: it keeps no data, so no migrations. */
export const descriptor: ServiceDescriptor = { configSchema: gatewayConfigSchema, migrations: [] };

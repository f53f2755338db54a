import type { MigrationInterface } from 'typeorm';
import type { z } from 'zod';

/**
 * The code half of a service's description, exported by `services/<name>/src/service.ts`:
 * the schema its environment is validated with and its migrations (none for a service
 * without a database). The migrate tool and the compose check load it by path.
 */
export interface ServiceDescriptor {
  readonly configSchema: z.ZodType;
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
}

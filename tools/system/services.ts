import type { ServiceName } from '@homiwork/contracts';

/**
 * The services `npm start` runs, in start order. A service added later plugs in with one
 * entry here; its main.ts reads everything else from the environment.
 */
export interface ServiceEntry {
  name: ServiceName;
  main: string;
  /** Health and metrics port (the gateway serves them on its public port too). */
  opsPort: number;
  /** Extra environment for local runs (never secrets for production). */
  env?: Record<string, string>;
  needsStorage?: boolean;
}

export const SERVICES: ServiceEntry[] = [];

import type { ServiceName } from '@homiwork/contracts';

/**
 * The services `npm start` and the end-to-end suite run, in start order. A service
 * added later plugs in with one entry here; its main.ts reads everything else from the
 * environment.
 */
export interface ServiceEntry {
  name: ServiceName;
  main: string;
  /** Health and metrics port for local runs. */
  opsPort: number;
}

export const SERVICES: ServiceEntry[] = [
  { name: 'identity', main: 'services/identity/src/main.ts', opsPort: 9101 },
  { name: 'media', main: 'services/media/src/main.ts', opsPort: 9102 },
  { name: 'gateway', main: 'services/gateway/src/main.ts', opsPort: 9100 },
];

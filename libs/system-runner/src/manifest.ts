import type { ServiceName } from '@homiwork/contracts';

/** What a service needs running before it can start (and what `.ci/run`/compose provide). */
export type Dependency = 'postgres' | 'nats' | 's3' | 'smtp';

/**
 * One service, described once. Everything that starts, migrates, tests, benchmarks,
 * deploys or scrapes services iterates SERVICE_MANIFEST: `npm start`, the e2e harness, the
 * benches, the migrate tool, the compose file (checked against it) and the Prometheus
 * scrape configuration (checked against it). The entry is data only, so the small
 * supervisor can read it without loading any service's code; a service's config schema
 * and migrations are in its `src/service.ts` (see ServiceDescriptor), loaded on demand.
 */
export interface ServiceManifestEntry {
  /** Also its PostgreSQL schema, its NATS queue group and its compose service name. */
  readonly name: ServiceName;
  /** Folder of the service: source in `<root>/src`, compiled to `dist/<root>/src`. */
  readonly root: string;
  /** Health and metrics port in local runs (compose uses 9100 inside each container). */
  readonly opsPort: number;
  /** The public API port (the gateway only). */
  readonly publicPort?: number;
  readonly needs: readonly Dependency[];
  /**
   * Settings this service hands to the services started after it, from the address of
   * its ops listener (e.g. media's internal byte API for the gateway).
   */
  readonly provides?: (opsUrl: string) => Record<string, string>;
}

/** In start order: a service starts after everything it may call at boot. */
export const SERVICE_MANIFEST: readonly ServiceManifestEntry[] = [
  { name: 'identity', root: 'services/identity', opsPort: 9101, needs: ['postgres', 'nats', 'smtp'] },
  { name: 'media', root: 'services/media', opsPort: 9102, needs: ['postgres', 'nats', 's3'], provides: (opsUrl) => ({ MEDIA_INTERNAL_URL: opsUrl }) },
  // The gateway is last: its readiness includes every other service's.
  { name: 'gateway', root: 'services/gateway', opsPort: 9100, publicPort: 8080, needs: ['nats'] },
];

/** The compiled entry point of a service, relative to the repository root. */
export const compiledMain = (entry: ServiceManifestEntry): string => `dist/${entry.root}/src/main.js`;

/** Services behind the gateway, whose readiness the gateway's own readiness includes. */
export const downstreamServices = (manifest: readonly ServiceManifestEntry[] = SERVICE_MANIFEST): string =>
  manifest
    .filter((entry) => entry.publicPort === undefined)
    .map((entry) => entry.name)
    .join(',');

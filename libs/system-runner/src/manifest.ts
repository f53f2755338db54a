import type { ServiceName } from '@homiwork/contracts';

/**
 * What a service needs running before it can start (and what `.ci/run`/compose provide).
 * `outside-api`: the HTTP API of an outside party (an AI contractor, a payment processor),
 * reached over the egress network in production; in development a local stand-in or none.
 */
export type Dependency = 'postgres' | 'nats' | 's3' | 'smtp' | 'outside-api';

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
  /**
   * Run-time settings of this service's process (memory settings of Node and the C
   * allocator): defaults that the environment the system is started with may override.
   * docker-compose.yml sets the same values (deploy/deploy.spec.ts checks it).
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Keeps data about users, so must purge it on UserDeleted and confirm with PurgeCompleted:
   * every erasure waits for a receipt from each such service (retention's ERASURE_SERVICES).
   */
  readonly holdsUserData?: boolean;
}

/*
 * V8 sizes the young generation from the machine's memory: on this 24 GB host, 2 × 32 MB
 * semi-spaces, all of it touched and resident (new_space 64 MB committed, 8–25 MB in use when
 * idle). Semi-spaces of 4 MB take 25–35 MB off every idle service at the price of more,
 * shorter scavenges, which these services' small, short-lived objects barely notice.
 */
const LEAN_NODE = { NODE_OPTIONS: '--max-semi-space-size=4' } as const;

/*
 * glibc malloc gives each thread that allocates under contention an arena of its own (up to
 * 8 per core) and rarely returns their memory: libvips' and libuv's threads decoding
 * images took media to 277–291 MB with 2 uploads in flight and 342–344 MB with 4 (media
 * bench). Two arenas: 209–225 and 233–259 MB, at the same throughput within this VM's noise;
 * sharp's pipelines, one libvips thread each, barely contend for them.
 */
const MEDIA_RUNTIME_ENV = { ...LEAN_NODE, MALLOC_ARENA_MAX: '2' } as const;

/** In start order: a service starts after everything it may call at boot. */
export const SERVICE_MANIFEST: readonly ServiceManifestEntry[] = [
  { name: 'identity', root: 'services/identity', holdsUserData: true, opsPort: 9101, needs: ['postgres', 'nats', 'smtp'], env: LEAN_NODE },
  { name: 'media', root: 'services/media', holdsUserData: true, opsPort: 9102, needs: ['postgres', 'nats', 's3'], provides: (opsUrl) => ({ MEDIA_INTERNAL_URL: opsUrl }), env: MEDIA_RUNTIME_ENV },
  { name: 'generation', root: 'services/generation', holdsUserData: true, opsPort: 9103, needs: ['postgres', 'nats', 's3', 'outside-api'], env: LEAN_NODE },
  { name: 'billing', root: 'services/billing', holdsUserData: true, opsPort: 9104, needs: ['postgres', 'nats', 'outside-api'], env: LEAN_NODE },
  { name: 'chat', root: 'services/chat', holdsUserData: true, opsPort: 9105, needs: ['postgres', 'nats'], env: LEAN_NODE },
  { name: 'retention', root: 'services/retention', holdsUserData: true, opsPort: 9106, needs: ['postgres', 'nats', 's3'], env: LEAN_NODE },
  // The gateway is last: its readiness includes every other service's.
  { name: 'gateway', root: 'services/gateway', opsPort: 9100, publicPort: 8080, needs: ['nats'], env: LEAN_NODE },
];

/** The compiled entry point of a service, relative to the repository root. */
export const compiledMain = (entry: ServiceManifestEntry): string => `dist/${entry.root}/src/main.js`;

/** Services behind the gateway, whose readiness the gateway's own readiness includes. */
export const downstreamServices = (manifest: readonly ServiceManifestEntry[] = SERVICE_MANIFEST): string =>
  manifest
    .filter((entry) => entry.publicPort === undefined)
    .map((entry) => entry.name)
    .join(',');

/** The services every erasure expects a PurgeCompleted from (retention's ERASURE_SERVICES). */
export const erasureServices = (manifest: readonly ServiceManifestEntry[] = SERVICE_MANIFEST): string =>
  manifest
    .filter((entry) => entry.holdsUserData)
    .map((entry) => entry.name)
    .join(',');

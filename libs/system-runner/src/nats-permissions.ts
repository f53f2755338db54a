import * as contracts from '@homiwork/contracts';
import {
  clockControlSubject,
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  EVENT_CATALOGUE,
  eventFilterSubject,
  eventSubject,
  EVENTS_STREAM,
  rpcSubject,
  streamName,
  systemReadyRoute,
  type ConsumerContract,
  type RpcRoute,
  type ServiceName,
} from '@homiwork/contracts';
import { SERVICE_MANIFEST, type ServiceManifestEntry } from './manifest.js';

/**
 * What one NATS user may do: the subjects it may publish to and subscribe to (everything
 * else is denied), and whether it may answer the requests it receives.
 */
export interface NatsUserPermissions {
  readonly user: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Lets an RPC server reply to a request's inbox without publish rights on any inbox. */
  readonly allowResponses: boolean;
}

/** The user that provisions the event streams, every durable consumer and the KV buckets (tools/system/src/migrate.ts). */
export const PROVISIONING_USER = 'migrate';

/** The operator's dead-letter tool (tools/system/src/dead-letters.ts): lists and replays dead letters. */
export const DEAD_LETTER_OPERATOR_USER = 'dead-letters';

/**
 * The operator's backup and restore tools (tools/system/src/backup.ts, restore.ts): read the
 * events stream's settings and the UserDeleted/PurgeCompleted events stored on it, nothing else.
 */
export const BACKUP_OPERATOR_USER = 'backup';
/** The one consumer name the backup operator may create, read and delete on the events stream. */
export const BACKUP_READER_CONSUMER = 'backup-reader';

/** The environment variable holding a user's password, for nats-server and for the process itself. */
export const natsPasswordVariable = (user: string): string => `NATS_PASSWORD_${user.toUpperCase().replace(/-/g, '_')}`;

/**
 * Where a user's replies arrive. connectToNats (libs/messaging/src/nats.ts) sets the same
 * prefix; a user may subscribe only below its own, so none reads another's replies.
 */
export const natsInboxPrefix = (user: string): string => `_INBOX.${user}`;

/** KV buckets, by what each service does with them (the names libs/auth and the gateway open). */
type KvAccess = 'write' | 'watch';
const KV_BUCKETS: ReadonlyArray<{ name: (ns: string) => string; access: Partial<Record<ServiceName, KvAccess>> }> = [
  // Identity announces revocations; every gateway keeps a mirror by watching the bucket.
  { name: (ns) => `${ns.toUpperCase()}_REVOCATIONS`, access: { identity: 'write', gateway: 'watch' } },
  // The gateway's shared rate-limit counters (services/gateway/src/rate-limit/nats-kv-rate-limiter.ts).
  { name: (ns) => `${ns.toUpperCase()}_RATE_LIMITS`, access: { gateway: 'write' } },
];

const isRoute = (value: unknown): value is RpcRoute =>
  typeof value === 'object' && value !== null && 'service' in value && 'method' in value && 'request' in value && 'response' in value;
const isConsumer = (value: unknown): value is ConsumerContract => typeof value === 'object' && value !== null && 'durableName' in value && 'event' in value;

/**
 * Every RPC route and durable consumer the contracts export (directly, or grouped in an
 * object such as IdentityRpc or MediaConsumers): a route or consumer added there gets its
 * permissions without a change here.
 */
function declared(): { routes: RpcRoute[]; consumers: ConsumerContract[] } {
  const routes = new Map<string, RpcRoute>();
  const consumers = new Map<string, ConsumerContract>();
  const visit = (value: unknown): void => {
    if (isRoute(value)) routes.set(`${value.service}.${value.method}`, value);
    else if (isConsumer(value)) consumers.set(value.durableName, value);
  };
  for (const value of Object.values(contracts)) {
    visit(value);
    if (typeof value === 'object' && value !== null && !isRoute(value) && !isConsumer(value) && !Array.isArray(value)) {
      for (const inner of Object.values(value as Record<string, unknown>)) visit(inner);
    }
  }
  // Sorted: module namespaces list exports in an order that differs between loaders, and the file must not churn.
  const byKey = <T>(map: Map<string, T>): T[] => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, value]) => value);
  return { routes: byKey(routes), consumers: byKey(consumers) };
}

/** JetStream API requests a process makes whatever it does (connecting checks the account). */
const jetStreamAccountInfo = '$JS.API.INFO';

/** What a service may ask about the event streams: their info (a check at boot), nothing that changes them. */
function streamInfo(streams: readonly string[]): string[] {
  return streams.map((stream) => `$JS.API.STREAM.INFO.${stream}`);
}

/** What migrate does to the event streams: create them or bring their settings up to date. */
function streamAdministration(streams: readonly string[]): string[] {
  return streams.flatMap((stream) => [`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`]);
}

/**
 * A durable pull consumer of the events stream, owned by its service: info (verified
 * against its contract at boot), pull, acknowledge, dead-letter. No create or update:
 * with them, a service could give its durable any filter (another user's inbox, once the
 * stream's subjects are widened) or a deliver subject (another service's RPC queue group).
 */
function durableConsumer(ns: string, consumer: ConsumerContract): string[] {
  const stream = streamName(ns, EVENTS_STREAM);
  const durable = consumer.durableName;
  return [
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
    deadLetterSubject(ns, consumer),
  ];
}

/** What migrate does to every durable: create it with its contract's configuration, or bring it back to it. */
function durableConsumerAdministration(ns: string, consumer: ConsumerContract): string[] {
  const stream = streamName(ns, EVENTS_STREAM);
  const durable = consumer.durableName;
  return [
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.DELETE.${stream}.${durable}`,
  ];
}

function kvBucket(bucket: string, access: KvAccess): string[] {
  const stream = `KV_${bucket}`;
  // Opening a bucket reads its stream's info; migrate creates it (kvBucketAdministration).
  const open = [`$JS.API.STREAM.INFO.${stream}`];
  // Reads by plain message get: no DIRECT.GET, which answers raw stored bytes to any reply subject (kv-buckets.ts).
  if (access === 'write') return [...open, `$KV.${bucket}.>`, `$JS.API.STREAM.MSG.GET.${stream}`];
  // A watch is an ordered consumer: created (and re-created after a gap), flow-controlled, never acknowledged.
  // Ephemeral only (CONSUMER.CREATE.<stream>[.<name>.<filter>]): DURABLE.CREATE stays refused.
  return [...open, `$JS.API.CONSUMER.CREATE.${stream}`, `$JS.API.CONSUMER.CREATE.${stream}.>`, `$JS.API.CONSUMER.DELETE.${stream}.>`, `$JS.FC.${stream}.>`];
}

/** What migrate does to a bucket: create it (Kvm.create reads its info first). */
const kvBucketAdministration = (bucket: string): string[] => [`$JS.API.STREAM.INFO.KV_${bucket}`, `$JS.API.STREAM.CREATE.KV_${bucket}`, `$JS.API.STREAM.UPDATE.KV_${bucket}`];

/**
 * The NATS users of a namespace, generated from the contracts and the manifest (nothing
 * else says who may do what): one per manifest service and the provisioning user.
 *
 * A service may
 * - serve its own RPC routes (subscribe, in its queue group) and answer them (allow_responses);
 * - call the routes that name it as a caller (a route's `callers`: the gateway for every
 *   public route, a named service for a service-to-service route such as billing's
 *   energy reservation);
 * - publish the events it produces (their contract's producer; PurgeCompleted for data
 *   owners, under its own name, so a receipt's announcer is pinned) and no other;
 * - read the info of, pull and acknowledge its own durable consumers, and dead-letter to
 *   their dead-letter subjects;
 * - read the event streams' info;
 * - use the KV buckets its code opens, writing only those it writes;
 * - receive replies in its own inbox only.
 * No service creates, updates or deletes a stream, a durable consumer or a bucket: the
 * migrate user provisions them all (tools/system/src/migrate.ts) and a service verifies
 * at boot what it finds (libs/messaging/src/provisioning.ts). With STREAM.UPDATE a
 * service could add another user's inbox to the events stream and read it through a
 * durable of its own, or shrink the stream to drop unread events; with CONSUMER.CREATE it
 * could make a push consumer deliver into another service's RPC queue group.
 */
export function natsPermissions(ns: string, manifest: readonly ServiceManifestEntry[] = SERVICE_MANIFEST): NatsUserPermissions[] {
  const { routes, consumers } = declared();
  const eventStreams = [streamName(ns, EVENTS_STREAM), streamName(ns, DEAD_LETTER_STREAM)];
  const users: NatsUserPermissions[] = manifest.map((entry) => {
    const service = entry.name;
    const served = [...routes.filter((route) => route.service === service), systemReadyRoute(service)];
    const called = [
      ...routes.filter((route) => route.callers.includes(service)),
      ...manifest.filter((other) => other.name !== service).map((other) => systemReadyRoute(other.name)).filter((route) => route.callers.includes(service)),
    ];
    const produced = EVENT_CATALOGUE.filter((event) => event.publishers.includes(service));
    const kv = KV_BUCKETS.flatMap((bucket) => {
      const access = bucket.access[service];
      return access ? kvBucket(bucket.name(ns), access) : [];
    });
    return {
      user: service,
      publish: unique([
        jetStreamAccountInfo,
        ...streamInfo(eventStreams),
        ...called.map((route) => rpcSubject(ns, route.service, route.method)),
        // An event several services announce: only under this service's own name.
        ...produced.map((event) => eventSubject(ns, event, service)),
        ...consumers.filter((consumer) => consumer.service === service).flatMap((consumer) => durableConsumer(ns, consumer)),
        ...kv,
      ]),
      subscribe: unique([
        `${natsInboxPrefix(service)}.>`,
        ...served.map((route) => `${rpcSubject(ns, route.service, route.method)} ${service}`),
        // Only in test mode does a service subscribe (CLOCK_CONTROL); no user may publish it here.
        clockControlSubject(ns),
      ]),
      allowResponses: true,
    };
  });
  users.push({
    user: PROVISIONING_USER,
    publish: unique([
      jetStreamAccountInfo,
      ...streamAdministration(eventStreams),
      ...consumers.filter((consumer) => manifest.some((entry) => entry.name === consumer.service)).flatMap((consumer) => durableConsumerAdministration(ns, consumer)),
      ...KV_BUCKETS.flatMap((bucket) => kvBucketAdministration(bucket.name(ns))),
    ]),
    subscribe: [`${natsInboxPrefix(PROVISIONING_USER)}.>`],
    allowResponses: false,
  });
  // Reads the dead-letter stream (a throw-away ordered consumer, single messages), reads the
  // event a letter was made from (replay republishes that event, not the letter's bytes),
  // deletes a replayed letter, and republishes to the event's subject: any event, so it is
  // an operator's credential, given to no service.
  const deadLetters = streamName(ns, DEAD_LETTER_STREAM);
  users.push({
    user: DEAD_LETTER_OPERATOR_USER,
    publish: [
      jetStreamAccountInfo,
      `$JS.API.STREAM.INFO.${deadLetters}`,
      `$JS.API.CONSUMER.CREATE.${deadLetters}`,
      `$JS.API.CONSUMER.CREATE.${deadLetters}.>`,
      `$JS.API.CONSUMER.INFO.${deadLetters}.>`,
      `$JS.API.CONSUMER.DELETE.${deadLetters}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${deadLetters}.>`,
      `$JS.API.STREAM.MSG.GET.${deadLetters}`,
      `$JS.API.DIRECT.GET.${deadLetters}`,
      `$JS.API.DIRECT.GET.${deadLetters}.>`,
      `$JS.API.STREAM.MSG.DELETE.${deadLetters}`,
      `$JS.API.STREAM.MSG.GET.${streamName(ns, EVENTS_STREAM)}`,
      ...EVENT_CATALOGUE.map((event) => eventFilterSubject(ns, event)),
    ],
    subscribe: [`${natsInboxPrefix(DEAD_LETTER_OPERATOR_USER)}.>`],
    allowResponses: false,
  });
  // Reads the events stream through one throw-away pull consumer of a fixed name
  // (readStoredEvents with BACKUP_READER_CONSUMER): with the name pinned it can neither delete
  // nor reconfigure a service's durable. The restore learns which users were erased since the
  // backup and waits for their receipts; it re-applies erasures through the services' outboxes
  // in PostgreSQL, so it publishes no event.
  const events = streamName(ns, EVENTS_STREAM);
  users.push({
    user: BACKUP_OPERATOR_USER,
    publish: [
      jetStreamAccountInfo,
      `$JS.API.STREAM.INFO.${events}`,
      `$JS.API.CONSUMER.CREATE.${events}.${BACKUP_READER_CONSUMER}.>`,
      `$JS.API.CONSUMER.INFO.${events}.${BACKUP_READER_CONSUMER}`,
      `$JS.API.CONSUMER.DELETE.${events}.${BACKUP_READER_CONSUMER}`,
      `$JS.API.CONSUMER.MSG.NEXT.${events}.${BACKUP_READER_CONSUMER}`,
    ],
    subscribe: [`${natsInboxPrefix(BACKUP_OPERATOR_USER)}.>`],
    allowResponses: false,
  });
  return users;
}

const unique = (subjects: string[]): string[] => [...new Set(subjects)];

const quote = (subject: string): string => JSON.stringify(subject);
const list = (subjects: readonly string[]): string => subjects.map((subject) => `          ${quote(subject)}`).join('\n');

/**
 * The `authorization { users = [...] }` block of a nats-server configuration. Passwords
 * are `$NATS_PASSWORD_<USER>` references, resolved by nats-server from its environment,
 * so the file holds no secret and the server refuses to start when one is missing.
 * No user is anonymous: a connection without a valid user is refused.
 */
export function renderNatsAuthorization(users: readonly NatsUserPermissions[]): string {
  const blocks = users.map((user) =>
    [
      '    {',
      `      user: ${quote(user.user)}`,
      `      password: $${natsPasswordVariable(user.user)}`,
      '      permissions: {',
      `        publish: { allow: [\n${list(user.publish)}\n        ] }`,
      `        subscribe: { allow: [\n${list(user.subscribe)}\n        ] }`,
      ...(user.allowResponses ? ['        allow_responses: true'] : []),
      '      }',
      '    }',
    ].join('\n'),
  );
  return `authorization {\n  users = [\n${blocks.join('\n')}\n  ]\n}\n`;
}

/** The generated file's header: where it comes from and how to refresh it. */
export function generatedHeader(ns: string): string {
  return [
    `# GENERATED by tools/system/src/nats-config.ts from the contracts and the service manifest`,
    `# (libs/system-runner/src/nats-permissions.ts) for the namespace "${ns}". Do not edit:`,
    `# regenerate with \`node dist/tools/system/src/nats-config.js --deploy\` (after \`npm start\` or a build).`,
    `# Passwords: $NATS_PASSWORD_<USER> from nats-server's environment.`,
    '',
  ].join('\n');
}

/** One member of a JetStream cluster on loopback: its name, its route port and its peers' route ports. */
export interface NatsClusterMember {
  readonly clusterName: string;
  readonly serverName: string;
  readonly routePort: number;
  readonly peerRoutePorts: readonly number[];
}

/**
 * The configuration `npm start` runs its own nats-server with: loopback only, JetStream in
 * the run directory. With `cluster`, one member of a JetStream cluster on loopback (the
 * scale-out test runs three); `extraUsers` are added after the generated ones (a test's own).
 */
export function renderDevNatsServerConfig(options: {
  ns: string;
  port: number;
  storeDir: string;
  manifest?: readonly ServiceManifestEntry[];
  cluster?: NatsClusterMember;
  extraUsers?: readonly NatsUserPermissions[];
}): string {
  const { cluster } = options;
  return [
    generatedHeader(options.ns),
    ...(cluster ? [`server_name: ${quote(cluster.serverName)}`] : []),
    `listen: ${quote(`127.0.0.1:${options.port}`)}`,
    `jetstream {\n  store_dir: ${quote(options.storeDir)}\n}`,
    'max_payload: 1MB',
    ...(cluster
      ? [
          `cluster {\n  name: ${quote(cluster.clusterName)}\n  listen: ${quote(`127.0.0.1:${cluster.routePort}`)}\n  routes: [\n${cluster.peerRoutePorts.map((port) => `    ${quote(`nats-route://127.0.0.1:${port}`)}`).join('\n')}\n  ]\n}`,
        ]
      : []),
    renderNatsAuthorization([...natsPermissions(options.ns, options.manifest), ...(options.extraUsers ?? [])]),
  ].join('\n');
}

/** Every NATS user name of a namespace's configuration (services, the provisioning user, the dead-letter operator). */
export const natsUserNames = (manifest: readonly ServiceManifestEntry[] = SERVICE_MANIFEST): string[] => [...manifest.map((entry) => entry.name), PROVISIONING_USER, DEAD_LETTER_OPERATOR_USER, BACKUP_OPERATOR_USER];

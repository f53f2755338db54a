import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { Clock, type ShiftableClock } from '@homiwork/clock';
import { BillingRpc, GenerationRpc, IdentityRpc, MediaRpc, RetentionRpc, type CallerContext, type EventContract, type EventPayload, type RpcRequest, type RpcResponse, type RpcRoute } from '@homiwork/contracts';
import { MessagingMetrics, publishStoredEvent, readStoredEvents, RpcClient, RpcError, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { startService, type StartedService } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { generationConfigSchema, type GenerationConfig } from '../src/config.js';
import { GenerationModule } from '../src/generation.module.js';

/**
 * The generation service as it runs — its Nest application with the real transport,
 * consumers, runner, sweeper and egress (local contractor) — on the machine's PostgreSQL and
 * NATS, in a fresh database and namespace, with a local S3 server. Its peers are stood in
 * for by small responders speaking their contracts on the same NATS (billing's
 * energy.reserve, identity's identifiers.get, media's uploads.get) and a local HTTP server
 * speaking media's internal byte API: billing is written in parallel, and the real pairs
 * run together in the end-to-end suite.
 */

export const INTERNAL_TOKEN = 'internal-token-'.padEnd(40, 'x');
export const COSTS: Record<GenerationRpc.GenerationKind, number> = { song: 30, image: 10, poem: 2, text: 2, video: 50 };

export interface TestUser {
  id: string;
  email: string;
  username: string;
}

/** What the stand-in peers do, per user; tests change it as they go. */
export interface PeerBehaviour {
  /** Reservation answer: pay (default), 402, a 500, or no answer at all (time-out). */
  billing: Map<string, 'pay' | 'broke' | 'fail' | 'silent'>;
  /** Identity cannot answer for these users. */
  identityDown: Set<string>;
  /** Every energy.reserve request received, in order. */
  reservations: Array<RpcRequest<typeof BillingRpc.ReserveEnergyRoute>>;
  /** The users' uploads as media keeps them: transformed bytes and type (and, to make media's metadata differ from the bytes, a size it reports). */
  uploads: Map<string, { userId: string; mimeType: string; data: Buffer; bytes?: number }>;
  /** Input reads media's byte API served. */
  uploadReads: string[];
  /** Uploads media still lists but whose bytes are gone (expired between the check and the run). */
  bytesGone: Set<string>;
  /** Retention's answer to holds.active: which of the users asked about are under a legal hold, or no answer when down; `asked`: every question's ids. */
  holds: { userIds: Set<string>; down: boolean; asked: string[][] };
}

export interface Harness {
  config: GenerationConfig;
  /** The environment the config was parsed from (for starting the compiled service as a process). */
  env: Record<string, string>;
  namespace: string;
  /** The in-process service, once started. */
  service: StartedService;
  /** Starts the in-process service (done by startHarness unless deferred). */
  startService(): Promise<StartedService>;
  s3: LocalS3;
  store: ObjectStore;
  peers: PeerBehaviour;
  clock: ShiftableClock;
  newUser(): TestUser;
  /** Calls a generation route as the user (the gateway's caller context). */
  call<R extends RpcRoute>(route: R, request: RpcRequest<R>, userId: string): Promise<RpcResponse<R>>;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  /** Every payload of this event type in the namespace's stream, oldest first. */
  events<E extends EventContract>(event: E): Promise<Array<EventPayload<E>>>;
  publish<E extends EventContract>(event: E, payload: EventPayload<E>): Promise<string>;
  /** Polls the job until it has ended. */
  finished(jobId: string, userId: string, timeoutMs?: number): Promise<GenerationRpc.Generation>;
  stop(): Promise<void>;
}

export async function startHarness(extraEnv: Record<string, string> = {}, options: { deferService?: boolean } = {}): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase();
  const namespace = createTestNamespace();
  const s3 = await startLocalS3();
  const logger = createLogger({ service: 'generation-test-peers', level: 'silent' });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'generation-test-peers' });
  const peers: PeerBehaviour = { billing: new Map(), identityDown: new Set(), reservations: [], uploads: new Map(), uploadReads: [], bytesGone: new Set(), holds: { userIds: new Set(), down: false, asked: [] } };
  const users = new Map<string, TestUser>();
  const stopPeers = startPeers(nc, namespace, peers, users, logger);
  const media = await startMediaByteApi(peers);

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    CLOCK_CONTROL: 'enabled',
    LOG_LEVEL: process.env.GENERATION_TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    OPS_PORT: '0',
    RPC_TIMEOUT_MS: '1500',
    S3_URL: s3.url,
    MEDIA_INTERNAL_URL: media.url,
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    GENERATION_POLL_INTERVAL_MS: '100',
    GENERATION_UNRESERVED_AFTER_MS: '4000',
    // The tests sweep when they choose to.
    CONTENT_SWEEP_INTERVAL_MS: String(3_600_000),
    ...extraEnv,
  };
  const config = generationConfigSchema.parse(env);
  const store = new ObjectStore(s3.config, { service: 'generation' });
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  const rpc = new RpcClient(nc, namespace, 10_000);

  let service: StartedService | undefined;
  const harness: Harness = {
    config,
    env,
    namespace,
    service: undefined as unknown as StartedService,
    async startService() {
      service = await startService(GenerationModule.forRoot(config), config, { service: 'generation', transport: { consumer: { ackWaitMs: 5_000 } } });
      harness.service = service;
      harness.clock = service.app.get<Clock, ShiftableClock>(Clock);
      return service;
    },
    s3,
    store,
    peers,
    clock: undefined as unknown as ShiftableClock,
    newUser() {
      const tag = randomUUID().slice(0, 8);
      const user = { id: randomUUID(), email: `Person.${tag}+gen@example.com`, username: `person_${tag}` };
      users.set(user.id, user);
      return user;
    },
    call(route, request, userId) {
      const caller: CallerContext = { requestId: randomUUID(), userId };
      return rpc.call(route, request, caller);
    },
    async sql<T>(query: string, params: unknown[] = []) {
      return (await pool.query(query, params)).rows as T[];
    },
    events: (event) => readStoredEvents(nc, namespace, event),
    publish: (event, payload) => publishStoredEvent(nc, namespace, event, payload),
    async finished(jobId, userId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await harness.call(GenerationRpc.GetGenerationRoute, { id: jobId }, userId);
        if (job.status === 'succeeded' || job.status === 'failed') return job;
        if (Date.now() > deadline) throw new Error(`job still ${job.status} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop() {
      await service?.close();
      await stopPeers();
      await new Promise<void>((resolve) => media.server.close(() => resolve()));
      await nc.close();
      await pool.end();
      await s3.stop();
      await database.drop();
    },
  };
  if (!options.deferService) await harness.startService();
  return harness;
}

function startPeers(nc: NatsConnection, namespace: string, peers: PeerBehaviour, users: Map<string, TestUser>, logger: ReturnType<typeof createLogger>): () => Promise<void> {
  const metrics = new MessagingMetrics(new ServiceMetrics('generation-test-peers'));
  const billing = new RpcServer(nc, namespace, 'billing', logger, metrics);
  const held = new Map<string, number>();
  billing.serve(BillingRpc.ReserveEnergyRoute, async (request) => {
    peers.reservations.push(request);
    const behaviour = peers.billing.get(request.userId) ?? 'pay';
    if (behaviour === 'broke') throw new RpcError(402, 'insufficient_energy', 'the balance cannot pay for this');
    if (behaviour === 'fail') throw new Error('billing broke down');
    if (behaviour === 'silent') await new Promise((resolve) => setTimeout(resolve, 5_000));
    // Idempotent on the reservation id, as billing's contract says.
    const cost = COSTS[request.purpose as GenerationRpc.GenerationKind] ?? 1;
    held.set(request.reservationId, cost);
    return { cost, energy: 100 };
  });
  const identity = new RpcServer(nc, namespace, 'identity', logger, metrics);
  identity.serve(IdentityRpc.GetIdentifiersRoute, (request) => {
    const user = users.get(request.userId);
    if (!user) return Promise.reject(new RpcError(404, 'not_found', 'no such user'));
    if (peers.identityDown.has(request.userId)) return Promise.reject(new Error('identity broke down'));
    return Promise.resolve({ email: user.email, username: user.username });
  });
  const media = new RpcServer(nc, namespace, 'media', logger, metrics);
  media.serve(MediaRpc.GetUploadRoute, (request, caller) => {
    const upload = peers.uploads.get(request.id);
    if (!upload || upload.userId !== caller.userId) return Promise.reject(new RpcError(404, 'not_found', 'no such upload'));
    const now = new Date();
    const kind = upload.mimeType.startsWith('text/') ? 'text' : upload.mimeType.startsWith('audio/') ? 'audio' : upload.mimeType.startsWith('video/') ? 'video' : 'image';
    return Promise.resolve({ id: request.id, kind, mimeType: upload.mimeType, bytes: upload.bytes ?? upload.data.length, createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + 7 * 86_400_000).toISOString() });
  });
  // Retention's hold list, which the content sweep asks before deleting (fails closed without it).
  const retention = new RpcServer(nc, namespace, 'retention', logger, metrics);
  retention.serve(RetentionRpc.ActiveHoldsRoute, ({ userIds }) => {
    peers.holds.asked.push(userIds);
    return peers.holds.down
      ? Promise.reject(new RpcError(503, 'service_unavailable', 'retention is down'))
      : Promise.resolve({ heldUserIds: userIds.filter((userId) => peers.holds.userIds.has(userId)) });
  });
  return async () => {
    await billing.stop();
    await identity.stop();
    await media.stop();
    await retention.stop();
  };
}

/** Media's internal byte API, as media serves it: the shared token and the caller's context, or nothing. */
async function startMediaByteApi(peers: PeerBehaviour): Promise<{ url: string; server: Server }> {
  const expected = Buffer.from(`Bearer ${INTERNAL_TOKEN}`);
  const server = createServer((request, response) => {
    const presented = Buffer.from(request.headers.authorization ?? '');
    const match = /^\/internal\/uploads\/([0-9a-f-]{36})\/file$/.exec(request.url ?? '');
    let caller: { userId?: string } = {};
    try {
      caller = JSON.parse(String(request.headers['hw-caller'] ?? '{}')) as { userId?: string };
    } catch {
      // answered 401 below
    }
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected) || !caller.userId) {
      response.writeHead(401).end();
      return;
    }
    const upload = match ? peers.uploads.get(match[1]!) : undefined;
    if (!upload || upload.userId !== caller.userId || peers.bytesGone.has(match![1]!)) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"no such upload"}}');
      return;
    }
    peers.uploadReads.push(match![1]!);
    response.writeHead(200, { 'content-type': upload.mimeType, 'content-length': upload.data.length }).end(upload.data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

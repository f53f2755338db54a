import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { Clock, type ShiftableClock } from '@homiwork/clock';
import { BillingRpc, GenerationRpc, RetentionRpc, type CallerContext, type EventContract, type EventPayload, type RpcRequest, type RpcResponse, type RpcRoute } from '@homiwork/contracts';
import { MessagingMetrics, publishStoredEvent, readStoredEvents, RpcClient, RpcError, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { startService, type StartedService } from '@homiwork/service-kit';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { chatConfigSchema, type ChatConfig } from '../src/config.js';
import { ChatModule } from '../src/chat.module.js';

/**
 * The chat service as it runs — its Nest application with the real transport, consumers
 * and sweeper — on the machine's PostgreSQL and NATS, in a fresh database and namespace.
 * Its peers are stood in for by responders speaking their contracts on the same NATS:
 * billing's energy.reserve and generation's chat.reply (both written in parallel; the real
 * pairs run together in the end-to-end suite).
 */

export interface PeerBehaviour {
  /** Reservation answer per user: pay (default), 402, or a 500. */
  billing: Map<string, 'pay' | 'broke' | 'fail'>;
  /** Reply answer per user: a reply naming the last turn (default), a failure, generation's late 403 for a restriction, or LONG_REPLY. */
  replies: Map<string, 'answer' | 'fail' | 'restricted' | 'long'>;
  reservations: Array<RpcRequest<typeof BillingRpc.ReserveEnergyRoute>>;
  replyRequests: Array<RpcRequest<typeof GenerationRpc.ChatReplyRoute>>;
  /** Delay before each reply, so sends overlap. */
  replyDelayMs: number;
  /** Retention's answer to holds.active: which of the users asked about are under a legal hold, or no answer when down; `asked`: every question's ids. */
  holds: { userIds: Set<string>; down: boolean; asked: string[][] };
}

export interface Harness {
  config: ChatConfig;
  env: Record<string, string>;
  databaseName: string;
  databaseUrl: string;
  service: StartedService;
  peers: PeerBehaviour;
  clock: ShiftableClock;
  call<R extends RpcRoute>(route: R, request: RpcRequest<R>, userId: string): Promise<RpcResponse<R>>;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  events<E extends EventContract>(event: E): Promise<Array<EventPayload<E>>>;
  publish<E extends EventContract>(event: E, payload: EventPayload<E>): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A reply longer than a stored message may be (generation allows 100,000 characters), with
 * a surrogate pair straddling the 8,000th unit: a cut there must not split it.
 */
export const LONG_REPLY = `${'x'.repeat(7_999)}\u{1F600}${'y'.repeat(20_000)}`;

/** What the stand-in generation answers: deterministic, and recognisable per request. */
export function standInReply(request: RpcRequest<typeof GenerationRpc.ChatReplyRoute>): string {
  return `reply (${request.style}) to: ${request.turns.at(-1)!.text.slice(0, 60)}`;
}

export async function startHarness(extraEnv: Record<string, string> = {}): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase();
  const namespace = createTestNamespace();
  const logger = createLogger({ service: 'chat-test-peers', level: 'silent' });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'chat-test-peers' });
  const peers: PeerBehaviour = { billing: new Map(), replies: new Map(), reservations: [], replyRequests: [], replyDelayMs: 0, holds: { userIds: new Set(), down: false, asked: [] } };

  const metrics = new MessagingMetrics(new ServiceMetrics('chat-test-peers'));
  const billing = new RpcServer(nc, namespace, 'billing', logger, metrics);
  billing.serve(BillingRpc.ReserveEnergyRoute, (request) => {
    peers.reservations.push(request);
    const behaviour = peers.billing.get(request.userId) ?? 'pay';
    if (behaviour === 'broke') return Promise.reject(new RpcError(402, 'insufficient_energy', 'the balance cannot pay for this'));
    if (behaviour === 'fail') return Promise.reject(new Error('billing broke down'));
    return Promise.resolve({ cost: 1, energy: 100 });
  });
  const generation = new RpcServer(nc, namespace, 'generation', logger, metrics);
  generation.serve(GenerationRpc.ChatReplyRoute, async (request) => {
    peers.replyRequests.push(request);
    if (peers.replyDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, peers.replyDelayMs));
    if (peers.replies.get(request.userId) === 'fail') throw new RpcError(503, 'service_unavailable', 'the contractor is unavailable', 5);
    if (peers.replies.get(request.userId) === 'restricted') throw new RpcError(403, 'processing_restricted', 'a restriction of processing is in force');
    if (peers.replies.get(request.userId) === 'long') return { text: LONG_REPLY };
    return { text: standInReply(request) };
  });
  // Retention's hold list, which the chat history sweep asks before deleting (fails closed without it).
  const retention = new RpcServer(nc, namespace, 'retention', logger, metrics);
  retention.serve(RetentionRpc.ActiveHoldsRoute, ({ userIds }) => {
    peers.holds.asked.push(userIds);
    return peers.holds.down
      ? Promise.reject(new RpcError(503, 'service_unavailable', 'retention is down'))
      : Promise.resolve({ heldUserIds: userIds.filter((userId) => peers.holds.userIds.has(userId)) });
  });

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    CLOCK_CONTROL: 'enabled',
    LOG_LEVEL: process.env.CHAT_TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    OPS_PORT: '0',
    RPC_TIMEOUT_MS: '3000',
    DATA_KEYS_MASTER_KEYS: `1:${randomBytes(32).toString('base64')}`,
    MODERATION_TEXT_RULES: 'arson=set\\s+fire\\s+to',
    // The tests sweep when they choose to.
    CHAT_SWEEP_INTERVAL_MS: String(3_600_000),
    CHAT_SETTLE_SWEEP_INTERVAL_MS: String(3_600_000),
    ...extraEnv,
  };
  const config = chatConfigSchema.parse(env);
  const service = await startService(ChatModule.forRoot(config), config, { service: 'chat', transport: { consumer: { ackWaitMs: 5_000 } } });
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const rpc = new RpcClient(nc, namespace, 20_000);

  return {
    config,
    env,
    databaseName: database.name,
    databaseUrl: database.url,
    service,
    peers,
    clock: service.app.get<Clock, ShiftableClock>(Clock),
    call(route, request, userId) {
      const caller: CallerContext = { requestId: randomUUID(), userId };
      return rpc.call(route, request, caller);
    },
    async sql<T>(query: string, params: unknown[] = []) {
      return (await pool.query(query, params)).rows as T[];
    },
    events: (event) => readStoredEvents(nc, namespace, event),
    publish: (event, payload) => publishStoredEvent(nc, namespace, event, payload),
    async stop() {
      await service.close();
      await billing.stop();
      await generation.stop();
      await retention.stop();
      await nc.close();
      await pool.end();
      await database.drop();
    },
  };
}

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { openRevocationBucket } from '@homiwork/auth';
import { Clock, type ShiftableClock } from '@homiwork/clock';
import { RetentionRpc, type CallerContext, type EventContract, type EventPayload, type RpcRequest, type RpcResponse, type RpcRoute } from '@homiwork/contracts';
import { startMailSink, type MailSink } from '@homiwork/mail/sink';
import { MessagingMetrics, publishStoredEvent, readStoredEvents, RpcClient, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { startService, type StartedService } from '@homiwork/service-kit';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { identityConfigSchema, type IdentityConfig } from '../src/config.js';
import { IdentityModule } from '../src/identity.module.js';

/**
 * The identity service as it runs — its Nest application with the real transport,
 * consumers and sweeper — on the machine's PostgreSQL and NATS, in a fresh database and
 * namespace, with a local mail sink. Retention is stood in for by a responder speaking its
 * ActiveHoldsRoute on the same NATS (the held users are `retention.heldUserIds`; `down`
 * makes it stop answering).
 */
export interface Harness {
  config: IdentityConfig;
  service: StartedService;
  mail: MailSink;
  clock: ShiftableClock;
  retention: { heldUserIds: Set<string>; down: boolean };
  call<R extends RpcRoute>(route: R, request: RpcRequest<R>, caller?: Partial<CallerContext>): Promise<RpcResponse<R>>;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  events<E extends EventContract>(event: E): Promise<Array<EventPayload<E>>>;
  publish<E extends EventContract>(event: E, payload: EventPayload<E>): Promise<string>;
  /** Whether identity's consumer has committed the handling of this published message. */
  processed(messageId: string): Promise<boolean>;
  /** Whether `user.<id>` is in the revocation bucket the gateways watch (every token of the account refused). */
  userRevoked(userId: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startHarness(extraEnv: Record<string, string> = {}): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase();
  const namespace = createTestNamespace();
  const mail = await startMailSink();
  const logger = createLogger({ service: 'identity-test-peers', level: 'silent' });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'identity-test-peers' });
  const retentionState = { heldUserIds: new Set<string>(), down: false };
  const retention = new RpcServer(nc, namespace, 'retention', logger, new MessagingMetrics(new ServiceMetrics('identity-test-peers')));
  retention.serve(RetentionRpc.ActiveHoldsRoute, async ({ userIds }) => {
    // "Down": no answer within the caller's timeout, as a stopped retention.
    if (retentionState.down) await new Promise((resolve) => setTimeout(resolve, 5_000));
    return { heldUserIds: userIds.filter((userId) => retentionState.heldUserIds.has(userId)) };
  });

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    CLOCK_CONTROL: 'enabled',
    LOG_LEVEL: process.env.IDENTITY_TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    OPS_PORT: '0',
    RPC_TIMEOUT_MS: '1000',
    JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    SMTP_URL: mail.smtpUrl,
    // The tests purge when they choose to.
    SECURITY_EVENT_PURGE_INTERVAL_MS: String(3_600_000),
    ...extraEnv,
  };
  const config = identityConfigSchema.parse(env);
  const service = await startService(IdentityModule.forRoot(config), config, { service: 'identity', transport: { consumer: { ackWaitMs: 5_000 } } });
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const rpc = new RpcClient(nc, namespace, 20_000);

  return {
    config,
    service,
    mail,
    clock: service.app.get<Clock, ShiftableClock>(Clock),
    retention: retentionState,
    call(route, request, caller = {}) {
      return rpc.call(route, request, { requestId: randomUUID(), ...caller });
    },
    async sql<T>(query: string, params: unknown[] = []) {
      return (await pool.query(query, params)).rows as T[];
    },
    events: (event) => readStoredEvents(nc, namespace, event),
    publish: (event, payload) => publishStoredEvent(nc, namespace, event, payload),
    async processed(messageId) {
      return (await pool.query('SELECT 1 FROM identity.inbox WHERE message_id = $1', [messageId])).rowCount === 1;
    },
    async userRevoked(userId) {
      const bucket = await openRevocationBucket(nc, namespace, config.ACCESS_TOKEN_TTL_SECONDS);
      return (await bucket.get(`user.${userId}`))?.operation === 'PUT';
    },
    async stop() {
      await service.close();
      await retention.stop();
      await nc.close();
      await pool.end();
      await mail.stop();
      await database.drop();
    },
  };
}

import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { DynamicModule } from '@nestjs/common';
import pg from 'pg';
import { Clock, type ShiftableClock } from '@homiwork/clock';
import { type CallerContext, type EventContract, type EventPayload, type RpcRequest, type RpcResponse, type RpcRoute } from '@homiwork/contracts';
import { publishStoredEvent, readStoredEvents, RpcClient } from '@homiwork/messaging';
import { startService, type StartedService } from '@homiwork/service-kit';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { erasureServices, generateDevSecrets } from '@homiwork/system-runner';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { retentionConfigSchema, type RetentionConfig } from '../src/config.js';

/**
 * Retention as it runs — N instances of its Nest application with the real transport,
 * consumers, relay and sweepers — on the machine's PostgreSQL, NATS and a local S3, in a
 * fresh database and namespace. The other services are not started: a test publishes the
 * events they would publish (`publish`, as their producer) and reads what retention
 * publishes from the JetStream stream (`events`). All instances share one database and one
 * namespace, as replicas in production do, and one moved clock (`advanceClock`).
 *
 * The sweepers' timers are set to an hour unless the test asks otherwise, so a test sweeps
 * when it chooses: `h.get(PolicyClock).sweep()`.
 */

/** Type of something Nest can resolve (a class or a token). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Token<T> = (abstract new (...args: any[]) => T) | string | symbol;

export interface RetentionInstance {
  readonly index: number;
  readonly service: StartedService;
  readonly clock: ShiftableClock;
  get<T>(token: Token<T>): T;
  /** A graceful stop (Nest shutdown hooks: consumers, relay, pools). */
  stop(): Promise<void>;
  readonly stopped: boolean;
}

export interface RetentionHarnessOptions {
  /** Instances started at once (default 1). */
  instances?: number;
  /** Environment over the harness's defaults (e.g. RETENTION_TICK_MS, RETENTION_BATCH_SIZE). */
  env?: Record<string, string>;
  /** The root module (default RetentionModule.forRoot): a test of one part may start retention with only that part's providers. */
  module?: (config: RetentionConfig) => DynamicModule;
}

export interface RetentionHarness {
  readonly config: RetentionConfig;
  readonly env: Record<string, string>;
  readonly namespace: string;
  readonly databaseName: string;
  readonly databaseUrl: string;
  readonly s3: LocalS3;
  /** Every instance started so far, stopped ones included (see `running`). */
  readonly instances: RetentionInstance[];
  /** The instances still running. */
  running(): RetentionInstance[];
  /** Starts one more instance on the same database and namespace, its clock at the harness's offset. */
  startInstance(): Promise<RetentionInstance>;
  /** A provider of the first running instance (or of `instance`). */
  get<T>(token: Token<T>, instance?: RetentionInstance): T;
  /** "Now" as the instances see it. */
  now(): Date;
  /** Moves every instance's clock (and the harness's own) forward; never back. */
  advanceClock(ms: number): void;
  /** Calls a retention route; the caller defaults to an anonymous internal request. */
  call<R extends RpcRoute>(route: R, request: RpcRequest<R>, caller?: Partial<CallerContext>): Promise<RpcResponse<R>>;
  /** A statement on retention's database, with retention's schema first on the search path. */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  /** Publishes an event as its producer would (validated; a fresh message id unless given — give the same id to simulate a redelivery). */
  publish<E extends EventContract>(event: E, payload: EventPayload<E>, options?: { messageId?: string; publisher?: string }): Promise<string>;
  /** Every payload of this event type in the namespace's stream, oldest first. */
  events<E extends EventContract>(event: E): Promise<Array<EventPayload<E>>>;
  /** Waits until `check` accepts the events of this type in the stream, then returns them. */
  eventsUntil<E extends EventContract>(event: E, check: (payloads: Array<EventPayload<E>>) => boolean, timeoutMs?: number): Promise<Array<EventPayload<E>>>;
  /** Waits until retention's outbox is empty (everything committed has reached JetStream). */
  outboxDrained(timeoutMs?: number): Promise<void>;
  /** The raw NATS connection of the harness (peers a test stands in for). */
  readonly nc: NatsConnection;
  stop(): Promise<void>;
}

export async function startRetentionHarness(options: RetentionHarnessOptions = {}): Promise<RetentionHarness> {
  const database: TestDatabase = await createTestDatabase();
  const namespace = createTestNamespace();
  const s3 = await startLocalS3();
  const nc = await connect({ servers: TEST_NATS_URL, name: 'retention-test-peers' });
  const secrets = generateDevSecrets();

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    CLOCK_CONTROL: 'enabled',
    LOG_LEVEL: process.env.RETENTION_TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    OPS_PORT: '0',
    RPC_TIMEOUT_MS: '3000',
    S3_URL: s3.url,
    ERASURE_SERVICES: erasureServices(),
    RECEIPT_SIGNING_KEYS: secrets.RECEIPT_SIGNING_KEYS,
    DATA_KEYS_MASTER_KEYS: secrets.DATA_KEYS_MASTER_KEYS,
    // The tests sweep when they choose to.
    RETENTION_TICK_MS: String(3_600_000),
    RETENTION_AUDIT_INTERVAL_MS: String(3_600_000),
    ...options.env,
  };
  const config = retentionConfigSchema.parse(env);
  const pool = new pg.Pool({ connectionString: database.url, max: 4, options: '-c search_path=retention,public' });
  const rpc = new RpcClient(nc, namespace, 20_000);
  const instances: RetentionInstance[] = [];
  // Loaded only when used, so a test of one part can start without the others' modules.
  let rootModule: (c: RetentionConfig) => DynamicModule;
  if (options.module) rootModule = options.module;
  else {
    const { RetentionModule } = await import('../src/retention.module.js');
    rootModule = (c) => RetentionModule.forRoot(c);
  }
  let offsetMs = 0;

  const startInstance = async (): Promise<RetentionInstance> => {
    const service = await startService(rootModule(config), config, { service: 'retention', transport: { consumer: { ackWaitMs: 5_000 } } });
    const clock = service.app.get<Clock, ShiftableClock>(Clock);
    clock.setOffset(offsetMs);
    let stopped = false;
    const instance: RetentionInstance = {
      index: instances.length,
      service,
      clock,
      get: <T>(token: Token<T>) => service.app.get<T>(token),
      async stop() {
        if (stopped) return;
        stopped = true;
        await service.close();
      },
      get stopped() {
        return stopped;
      },
    };
    instances.push(instance);
    return instance;
  };

  for (let i = 0; i < (options.instances ?? 1); i++) await startInstance();

  const running = () => instances.filter((instance) => !instance.stopped);
  const events = <E extends EventContract>(event: E): Promise<Array<EventPayload<E>>> => readStoredEvents(nc, namespace, event);

  const harness: RetentionHarness = {
    config,
    env,
    namespace,
    databaseName: database.name,
    databaseUrl: database.url,
    s3,
    instances,
    nc,
    running,
    startInstance,
    get<T>(token: Token<T>, instance?: RetentionInstance): T {
      const target = instance ?? running()[0];
      if (!target) throw new Error('no retention instance is running');
      return target.get(token);
    },
    now: () => new Date(Date.now() + offsetMs),
    advanceClock(ms: number) {
      if (!(ms >= 0)) throw new RangeError('the clock only moves forward');
      offsetMs += ms;
      for (const instance of running()) instance.clock.setOffset(offsetMs);
    },
    call(route, request, caller = {}) {
      return rpc.call(route, request, { requestId: randomUUID(), ...caller });
    },
    async sql<T>(query: string, params: unknown[] = []) {
      return (await pool.query(query, params)).rows as T[];
    },
    publish: (event, payload, publishOptions = {}) => publishStoredEvent(nc, namespace, event, payload, { occurredAt: new Date(Date.now() + offsetMs), ...publishOptions }),
    events,
    async eventsUntil(event, check, timeoutMs = 15_000) {
      let last: Array<EventPayload<typeof event>> = [];
      await eventually(
        async () => {
          last = await events(event);
          return check(last);
        },
        { timeoutMs, what: `${event.type} events` },
      );
      return last;
    },
    async outboxDrained(timeoutMs = 15_000) {
      await eventually(async () => Number((await pool.query('SELECT count(*)::int AS n FROM retention.outbox')).rows[0].n) === 0, { timeoutMs, what: 'the outbox to drain' });
    },
    async stop() {
      for (const instance of running()) await instance.stop().catch(() => undefined);
      await nc.close();
      await pool.end();
      await s3.stop();
      await database.drop();
    },
  };
  return harness;
}

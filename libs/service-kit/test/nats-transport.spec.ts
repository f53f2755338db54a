import { randomUUID } from 'node:crypto';
import { Controller, Inject, Module, UseInterceptors, type CallHandler, type NestInterceptor } from '@nestjs/common';
import { lastValueFrom, map, type Observable } from 'rxjs';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Clock } from '@homiwork/clock';
import { databaseServiceConfig, loadConfig } from '@homiwork/config';
import { defineConsumer, defineRoute, EVENTS_STREAM, streamName, UserRegisteredV1, type CallerContext, type EventPayload } from '@homiwork/contracts';
import { CreateMessagingTables1764200000000, MessagingMetrics, RpcClient, RpcError, type EventContext, type NatsHandles } from '@homiwork/messaging';
import { Database, TRANSACTION_PROVIDERS, Transactor } from '@homiwork/persistence';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { ROUTE_EXTRA, rpcPattern } from '../src/decorators.js';
import { LOGGER, NATS, SERVICE_CONFIG, NatsJetStreamServer, NatsRpcClientProxy, OnEvent, OnRpc, ServiceKitModule, startService, type StartedService } from '../src/index.js';

// Handlers on a Nest *controller*, so Nest's own microservice machinery binds them to the
// transport (with interceptors and filters), as a NestJS engineer would write them.
const Greet = defineRoute({
  service: 'identity',
  method: 'transport-test.greet',
  request: z.strictObject({ word: z.string().max(10) }),
  response: z.strictObject({ greeting: z.string(), userId: z.uuid().nullable() }),
});
const Conflict = defineRoute({ service: 'identity', method: 'transport-test.conflict', request: z.strictObject({}), response: z.strictObject({}) });
const Broken = defineRoute({ service: 'identity', method: 'transport-test.broken', request: z.strictObject({}), response: z.strictObject({}) });
const Register = defineRoute({ service: 'identity', method: 'transport-test.register', request: z.strictObject({}), response: z.strictObject({ userId: z.uuid() }) });
const Missing = defineRoute({ service: 'identity', method: 'transport-test.nobody-serves-this', request: z.strictObject({}), response: z.strictObject({}) });
const Welcome = defineConsumer({ service: 'identity', event: UserRegisteredV1, backoffMs: [50] });

/** Short enough that the first, slow application of an event outlives it three times over: only working() keeps it from being redelivered. */
const ACK_WAIT_MS = 300;

class CreateWelcomedTable1764200000003 implements MigrationInterface {
  name = 'CreateWelcomedTable1764200000003';
  async up(queryRunner: QueryRunner): Promise<void> {
    // No uniqueness: a second application of one event would show as a second row.
    await queryRunner.query('CREATE TABLE identity.users (id uuid PRIMARY KEY); CREATE TABLE identity.welcomed (user_id uuid NOT NULL, message_id text NOT NULL)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE identity.welcomed; DROP TABLE identity.users');
  }
}

/** A Nest interceptor on one handler: proves handlers run through Nest's pipeline, observable results included. */
class ExclaimInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler<{ greeting: string }>): Observable<unknown> {
    return next.handle().pipe(map((response) => ({ ...response, greeting: `${response.greeting}!` })));
  }
}

const welcomeCalls: Array<{ messageId: string; deliveryCount: number }> = [];

@Controller()
class TransportTestController {
  constructor(
    private readonly transactor: Transactor,
    private readonly database: Database,
    private readonly client: NatsRpcClientProxy,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  @OnRpc(Greet)
  @UseInterceptors(new ExclaimInterceptor())
  greet(request: { word: string }, caller: CallerContext): Promise<{ greeting: string; userId: string | null }> {
    return Promise.resolve({ greeting: `hello ${request.word}`, userId: caller.userId ?? null });
  }

  @OnRpc(Conflict)
  conflict(): Promise<object> {
    return Promise.reject(new RpcError(409, 'word_taken', 'this word is taken'));
  }

  @OnRpc(Broken)
  broken(): Promise<object> {
    return Promise.reject(new Error('database exploded for dave@example.com'));
  }

  /** The change and its event in one transaction: the event goes through the framework's emit, into the outbox. */
  @OnRpc(Register)
  async register(): Promise<{ userId: string }> {
    const userId = randomUUID();
    await this.transactor.run(async () => {
      await this.database.query('INSERT INTO identity.users (id) VALUES ($1)', [userId]);
      await lastValueFrom(this.client.emit(UserRegisteredV1, { userId, registeredAt: this.clock.now().toISOString() }));
    });
    return { userId };
  }

  @OnEvent(Welcome)
  async welcome(payload: EventPayload<typeof UserRegisteredV1>, context: EventContext): Promise<void> {
    welcomeCalls.push({ messageId: context.messageId, deliveryCount: context.deliveryCount });
    await context.manager.query('INSERT INTO identity.welcomed (user_id, message_id) VALUES ($1, $2)', [payload.userId, context.messageId]);
    // The first application outlasts the ack wait: without working() JetStream would redeliver while it runs.
    if (welcomeCalls.length === 1) await new Promise((resolve) => setTimeout(resolve, ACK_WAIT_MS * 3));
  }
}

let database: TestDatabase;
let started: StartedService;
const caller = { requestId: 'transport-1', userId: randomUUID() };

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig(databaseServiceConfig, {
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: createTestNamespace(),
    OPS_PORT: '0',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
  });
  @Module({
    imports: [ServiceKitModule.forRoot({ service: 'identity', config, migrations: [CreateMessagingTables1764200000000, CreateWelcomedTable1764200000003] })],
    controllers: [TransportTestController],
    providers: [...TRANSACTION_PROVIDERS],
  })
  class TransportTestModule {}
  started = await startService(TransportTestModule, config, { service: 'identity', transport: { consumer: { ackWaitMs: ACK_WAIT_MS }, pendingRefreshMs: 100 } });
});

let closed = false;
afterAll(async () => {
  if (!closed) await started?.close();
  await database?.drop();
});

describe('the NATS/JetStream transport behind @nestjs/microservices', () => {
  it('is the app\'s connected microservice, with the controller\'s handlers bound by Nest', () => {
    const [microservice] = started.app.getMicroservices() as Array<{ getTransportServer(): unknown }>;
    const server = microservice!.getTransportServer() as NatsJetStreamServer;
    expect(server).toBeInstanceOf(NatsJetStreamServer);
    expect([...server.getHandlers().keys()]).toEqual(
      expect.arrayContaining(['rpc.identity.transport-test.greet', 'rpc.identity.transport-test.register', 'evt.identity.user-registered.v1']),
    );
    expect(server.consumerCount).toBe(1);
  });

  it('answers a request through the handler with the caller context, through Nest interceptors', async () => {
    const rpc = started.app.get(RpcClient);
    await expect(rpc.call(Greet, { word: 'you' }, caller)).resolves.toEqual({ greeting: 'hello you!', userId: caller.userId });
  });

  it('maps failures exactly as RpcServer does: 400 by schema, the handler\'s RpcError, a scrubbed generic 500', async () => {
    const rpc = started.app.get(RpcClient);
    await expect(rpc.call(Greet, { word: 'much too long a word' }, caller)).rejects.toMatchObject({ status: 400, code: 'validation_failed', message: expect.stringMatching(/^word: /) });
    await expect(rpc.call(Conflict, {}, caller)).rejects.toMatchObject({ status: 409, code: 'word_taken' });
    const error = (await rpc.call(Broken, {}, caller).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ status: 500, code: 'internal_error' });
    expect(error.message).not.toContain('dave@example.com');
  });

  it('applies an event emitted through the outbox exactly once; a handler slower than the ack wait is kept alive with working(), not redelivered', async () => {
    const client = started.app.get(NatsRpcClientProxy);
    const { userId } = await lastValueFrom(client.send<{ userId: string }>(Register, { request: {}, caller }));
    const dataSource = started.app.get(DataSource);
    const metricsText = async () => (await fetch(`${started.url}/metrics`)).text();
    await eventually(async () => /events_consumed_total\{consumer="identity--user-registered-v1",outcome="processed",service="identity"\} 1\b/.test(await metricsText()), {
      what: 'the event applied',
    });
    const rows = await dataSource.query<Array<{ message_id: string }>>('SELECT message_id FROM identity.welcomed WHERE user_id = $1', [userId]);
    expect(rows).toHaveLength(1);
    // Delivery 1 ran three ack waits long; the consumer told the server it was still on it.
    expect(welcomeCalls).toEqual([{ messageId: rows[0]!.message_id, deliveryCount: 1 }]);
    // Settled now: nothing left for the consumer, and the gauge says so.
    await eventually(async () => /consumer_pending_messages\{consumer="identity--user-registered-v1",service="identity"\} 0\b/.test(await metricsText()), { what: 'pending gauge at 0' });
    const nats = started.app.get<NatsHandles>(NATS);
    const info = await nats.jsm.consumers.info(streamName(started.app.get<{ config: { EVENT_NAMESPACE: string } }>(SERVICE_CONFIG).config.EVENT_NAMESPACE, EVENTS_STREAM), Welcome.durableName);
    expect(info.num_redelivered).toBe(0);
    // The series exist from start-up at 0: no duplicate applied, no redelivery seen by the consumer.
    const text = await metricsText();
    expect(text).toMatch(/^events_consumed_total\{consumer="identity--user-registered-v1",outcome="duplicate",service="identity"\} 0$/m);
    expect(text).toMatch(/^events_redelivered_total\{consumer="identity--user-registered-v1",service="identity"\} 0$/m);
  });

  it('refuses an event emitted outside a transaction, at once, without writing it', () => {
    const client = started.app.get(NatsRpcClientProxy);
    expect(() => client.emit(UserRegisteredV1, { userId: randomUUID(), registeredAt: new Date().toISOString() })).toThrow(/inside the transaction .*outbox/);
  });

  it('client proxy: answers 503 at once when no instance serves the route', async () => {
    const client = started.app.get(NatsRpcClientProxy);
    const before = Date.now();
    await expect(lastValueFrom(client.send(Missing, { request: {}, caller }))).rejects.toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(Date.now() - before).toBeLessThan(1_000);
  });

  it('client proxy: passes the service\'s error through and refuses a call without a caller context', async () => {
    const client = started.app.get(NatsRpcClientProxy);
    await expect(lastValueFrom(client.send(Conflict, { request: {}, caller }))).rejects.toBeInstanceOf(RpcError);
    await expect(lastValueFrom(client.send(Greet, { word: 'x' }))).rejects.toThrow(/caller context/);
  });

  it('refuses to start a framework handler that is not bound to a contract', async () => {
    const nats = started.app.get<NatsHandles>(NATS);
    const server = new NatsJetStreamServer({ service: 'identity', namespace: createTestNamespace(), nats, logger: started.app.get(LOGGER), metrics: started.app.get(MessagingMetrics), readiness: () => Promise.resolve({}) });
    server.addHandler('rpc.identity.raw', () => Promise.resolve({}));
    await expect(new Promise<void>((resolve, reject) => server.listen((error?: unknown) => (error instanceof Error ? reject(error) : resolve())))).rejects.toThrow(/not bound to a route contract/);
    await server.close();
  });

  it('refuses to start two handlers for one route, which Nest would silently replace by the last', async () => {
    const nats = started.app.get<NatsHandles>(NATS);
    const server = new NatsJetStreamServer({ service: 'identity', namespace: createTestNamespace(), nats, logger: started.app.get(LOGGER), metrics: started.app.get(MessagingMetrics), readiness: () => Promise.resolve({}) });
    // What Nest does with two @OnRpc(Greet) methods: both under the route's pattern.
    server.addHandler(rpcPattern(Greet), () => Promise.resolve({ first: true }), false, { [ROUTE_EXTRA]: Greet });
    server.addHandler(rpcPattern(Greet), () => Promise.resolve({ second: true }), false, { [ROUTE_EXTRA]: Greet });
    await expect(new Promise<void>((resolve, reject) => server.listen((error?: unknown) => (error instanceof Error ? reject(error) : resolve())))).rejects.toThrow(/more than one @OnRpc handler/);
    await server.close();
  });

  // Last: it closes the app.
  it('on close, stops serving and drains the consumers while NATS and the database are still up, then closes them', async () => {
    const server = (started.app.getMicroservices()[0] as { getTransportServer(): unknown }).getTransportServer() as NatsJetStreamServer;
    const nats = started.app.get<NatsHandles>(NATS);
    const dataSource = started.app.get(DataSource);
    const seen: string[] = [];
    const close = server.close.bind(server);
    server.close = async () => {
      seen.push(`transport closing: nats ${nats.nc.isClosed() || nats.nc.isDraining() ? 'down' : 'up'}, database ${dataSource.isInitialized ? 'up' : 'down'}`);
      await close();
      seen.push(`transport closed: nats ${nats.nc.isClosed() || nats.nc.isDraining() ? 'down' : 'up'}, database ${dataSource.isInitialized ? 'up' : 'down'}`);
    };
    closed = true;
    await started.close();
    expect(seen).toEqual(['transport closing: nats up, database up', 'transport closed: nats up, database up']);
    expect(nats.nc.isClosed()).toBe(true);
    expect(dataSource.isInitialized).toBe(false);
  });
});

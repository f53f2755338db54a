import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Module } from '@nestjs/common';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { connect } from '@nats-io/transport-node';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Clock } from '@homiwork/clock';
import { loadConfig, databaseServiceConfig } from '@homiwork/config';
import { clockControlSubject, defineConsumer, defineRoute, UserRegisteredV1 } from '@homiwork/contracts';
import { CreateMessagingTables1764200000000, Outbox, RpcClient, type EventContext } from '@homiwork/messaging';
import { initTracing, withSpan } from '@homiwork/observability';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { OnEvent, OnRpc, ServiceKitModule, HTTP_REQUEST_TIMEOUT_MS, startService, type StartedService } from '../src/index.js';

// A miniature service: one route that changes state and announces it, one consumer of that event.
const Register = defineRoute({ service: 'identity', method: 'kit-test.register', request: z.strictObject({}), response: z.strictObject({ userId: z.uuid() }) });
const Now = defineRoute({ service: 'identity', method: 'kit-test.now', request: z.strictObject({}), response: z.strictObject({ now: z.string() }) });
const Welcome = defineConsumer({ service: 'identity', event: UserRegisteredV1, backoffMs: [50] });

class CreateTables1764200000002 implements MigrationInterface {
  name = 'CreateTables1764200000002';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE identity.users (id uuid PRIMARY KEY, welcomed boolean NOT NULL DEFAULT false)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE identity.users');
  }
}

@Injectable()
class KitTestHandlers {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  @OnRpc(Register)
  async register(): Promise<{ userId: string }> {
    const userId = randomUUID();
    await this.dataSource.transaction(async (manager) => {
      await manager.query('INSERT INTO identity.users (id) VALUES ($1)', [userId]);
      await this.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: this.clock.now().toISOString() });
    });
    return { userId };
  }

  @OnRpc(Now)
  now(): Promise<{ now: string }> {
    return Promise.resolve({ now: this.clock.now().toISOString() });
  }

  @OnEvent(Welcome)
  async welcome(payload: { userId: string }, context: EventContext): Promise<void> {
    await context.manager.query('UPDATE identity.users SET welcomed = true WHERE id = $1', [payload.userId]);
  }
}

let database: TestDatabase;
let started: StartedService;
let config: ReturnType<typeof databaseServiceConfig.parse>;
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  database = await createTestDatabase();
  config = loadConfig(databaseServiceConfig, {
    DATABASE_URL: database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: createTestNamespace(),
    OPS_PORT: '0',
    NODE_ENV: 'test',
    CLOCK_CONTROL: 'enabled',
    LOG_LEVEL: 'silent',
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
  });
  @Module({ imports: [ServiceKitModule.forRoot({ service: 'identity', config, migrations: [CreateMessagingTables1764200000000, CreateTables1764200000002] })], providers: [KitTestHandlers] })
  class KitTestModule {}
  started = await startService(KitTestModule, config, { service: 'identity' });
  initTracing({ service: 'kit-test', exporter: spans });
});

afterAll(async () => {
  await started.close();
  await database.drop();
});

describe('service kit', () => {
  it('reports live and ready with every dependency checked', async () => {
    expect((await fetch(`${started.url}/health/live`)).status).toBe(200);
    const ready = await fetch(`${started.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { nats: 'ok', database: 'ok', events: 'ok' } });
  });

  it('bounds how long a client may take to send a request, so a trickled body cannot hold a connection for ever', () => {
    const server = started.app.getHttpServer() as { requestTimeout: number };
    expect(server.requestTimeout).toBe(HTTP_REQUEST_TIMEOUT_MS);
    expect(HTTP_REQUEST_TIMEOUT_MS).toBeGreaterThan(0);
  });

  it('serves a route, relays its event and applies it in the consumer, in one trace', async () => {
    const rpc = started.app.get(RpcClient);
    const { userId } = await withSpan('test request', {}, () => rpc.call(Register, {}, { requestId: 'r1' }));
    const dataSource = started.app.get(DataSource);
    await eventually(async () => (await dataSource.query<Array<{ welcomed: boolean }>>('SELECT welcomed FROM identity.users WHERE id = $1', [userId]))[0]?.welcomed === true, {
      what: 'event applied by the consumer',
    });
    const finished = spans.getFinishedSpans();
    const root = finished.find((span) => span.name === 'test request')!;
    const rpcSpan = finished.find((span) => span.name === 'rpc identity.kit-test.register');
    await eventually(() => spans.getFinishedSpans().some((span) => span.name === `consume ${UserRegisteredV1.type}`), { what: 'consumer span' });
    const consumeSpan = spans.getFinishedSpans().find((span) => span.name === `consume ${UserRegisteredV1.type}`)!;
    expect(rpcSpan?.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(consumeSpan.spanContext().traceId).toBe(root.spanContext().traceId);
  });

  it('exports event and process metrics on /metrics', async () => {
    const text = await (await fetch(`${started.url}/metrics`)).text();
    expect(text).toMatch(/events_published_total\{event="UserRegistered.v1",service="identity"\} [1-9]/);
    expect(text).toMatch(/events_consumed_total\{consumer="identity--user-registered-v1",outcome="processed",service="identity"\} [1-9]/);
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toMatch(/rpc_requests_total\{route="kit-test.register",outcome="ok",service="identity"\}/);
  });

  it('lets the test suite move the service clock across processes, forward only', async () => {
    const rpc = started.app.get(RpcClient);
    const before = new Date((await rpc.call(Now, {}, { requestId: 'r2' })).now).getTime();
    const nc = await connect({ servers: TEST_NATS_URL });
    const reply = await nc.request(clockControlSubject(config.EVENT_NAMESPACE), JSON.stringify({ offsetMs: 30 * 24 * 3600 * 1000 }));
    expect(reply.json<{ ok: boolean }>().ok).toBe(true);
    const back = await nc.request(clockControlSubject(config.EVENT_NAMESPACE), JSON.stringify({ offsetMs: 0 }));
    expect(back.json<{ ok: boolean }>().ok).toBe(false);
    await nc.close();
    const after = new Date((await rpc.call(Now, {}, { requestId: 'r3' })).now).getTime();
    expect(after - before).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
  });
});

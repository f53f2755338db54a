import { randomUUID } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { Controller, Module } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseServiceConfig, loadConfig } from '@homiwork/config';
import { DEAD_LETTER_STREAM, defineConsumer, eventSubject, EVENTS_STREAM, streamName, UserDeletedV1, type EventPayload } from '@homiwork/contracts';
import { CreateMessagingTables1764200000000, EVENT_TYPE_HEADER, type EventContext, type NatsHandles } from '@homiwork/messaging';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { NATS, OnEvent, ServiceKitModule, startService, type StartedService } from '../src/index.js';

/**
 * Defect 7: a UserDeleted that arrives while PostgreSQL is unreachable must wait for it —
 * however long — and then purge exactly once; never be dead-lettered, never be dropped by
 * the server's delivery limit. The service reaches PostgreSQL through a TCP proxy this test
 * closes (connections refused, open ones cut) and reopens; the machine's PostgreSQL stays up.
 */
const BACKOFF_MS = [100, 200, 300];
const ACK_WAIT_MS = 1_000;
/** Longer than the whole backoff schedule (0.6 s) and several ack waits. */
const OUTAGE_MS = 6_000;
const Purge = defineConsumer({ service: 'media', event: UserDeletedV1, backoffMs: BACKOFF_MS });

class CreatePurgedTable1764200000004 implements MigrationInterface {
  name = 'CreatePurgedTable1764200000004';
  async up(queryRunner: QueryRunner): Promise<void> {
    // No uniqueness: a second application would show as a second row.
    await queryRunner.query('CREATE TABLE media.purged (user_id uuid NOT NULL, message_id text NOT NULL)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE media.purged');
  }
}

const attempts: number[] = [];

@Controller()
class PurgeController {
  @OnEvent(Purge)
  async purge(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    attempts.push(context.deliveryCount);
    await context.manager.query('INSERT INTO media.purged (user_id, message_id) VALUES ($1, $2)', [payload.userId, context.messageId]);
  }
}

/** A TCP proxy to PostgreSQL that can go away (refusing new connections, cutting open ones) and come back on the same port. */
class DatabaseProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

let database: TestDatabase;
let proxy: DatabaseProxy;
let started: StartedService;
let nats: NatsHandles;
let namespace: string;
let directDatabase: DataSource;

beforeAll(async () => {
  database = await createTestDatabase();
  const target = new URL(database.url);
  proxy = new DatabaseProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await proxy.up();
  const viaProxy = new URL(database.url);
  viaProxy.port = String(proxy.port);
  namespace = createTestNamespace();
  const config = loadConfig(databaseServiceConfig, {
    DATABASE_URL: viaProxy.toString(),
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    OPS_PORT: '0',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
  });
  @Module({ imports: [ServiceKitModule.forRoot({ service: 'media', config, migrations: [CreateMessagingTables1764200000000, CreatePurgedTable1764200000004] })], controllers: [PurgeController] })
  class OutageTestModule {}
  started = await startService(OutageTestModule, config, {
    service: 'media',
    transport: { consumer: { ackWaitMs: ACK_WAIT_MS, dependencyRetry: { initialMs: 100, maxMs: 400 } }, pendingRefreshMs: 200 },
  });
  nats = started.app.get<NatsHandles>(NATS);
  directDatabase = await new DataSource({ type: 'postgres', url: database.url }).initialize();
});

afterAll(async () => {
  await proxy?.up();
  await started?.close();
  await directDatabase?.destroy();
  await database?.drop();
});

async function readiness(): Promise<{ status: number; checks: Record<string, string> }> {
  const response = await fetch(`${started.opsUrl}/health/ready`);
  return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
}

async function deadLetterCount(): Promise<number> {
  return (await nats.jsm.streams.info(streamName(namespace, DEAD_LETTER_STREAM))).state.messages;
}

describe('a PostgreSQL outage longer than the whole backoff', () => {
  it('holds the UserDeleted event, reports not ready, and purges exactly once when PostgreSQL is back — nothing dead-lettered, nothing dropped', async () => {
    expect((await readiness()).status).toBe(200);
    await proxy.down();

    const userId = randomUUID();
    const h = natsHeaders();
    h.set(EVENT_TYPE_HEADER, UserDeletedV1.type);
    const payload = { userId, erasureId: randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() };
    await nats.js.publish(eventSubject(namespace, UserDeletedV1), JSON.stringify(payload), { msgID: randomUUID(), headers: h });

    await eventually(async () => (await readiness()).checks.events === 'failing', { what: 'the consumer reported waiting for its database', timeoutMs: 10_000 });
    const outageStarted = Date.now();
    while (Date.now() - outageStarted < OUTAGE_MS) {
      const during = await readiness();
      expect(during.status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(await deadLetterCount()).toBe(0);
    const info = await nats.jsm.consumers.info(streamName(namespace, EVENTS_STREAM), Purge.durableName);
    expect(info.config.max_deliver).toBe(-1);
    // Held in hand (kept alive with working()), not redelivered: the outage cost no delivery.
    expect(info.num_redelivered).toBe(0);

    await proxy.up();
    await eventually(async () => (await directDatabase.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM media.purged WHERE user_id = $1', [userId]))[0]!.n === 1, {
      what: 'the purge applied after the outage',
      timeoutMs: 15_000,
    });
    await eventually(async () => (await readiness()).status === 200, { what: 'ready again', timeoutMs: 10_000 });
    // Settled: nothing pending or unacknowledged, nothing dead-lettered, applied once.
    await eventually(async () => {
      const settled = await nats.jsm.consumers.info(streamName(namespace, EVENTS_STREAM), Purge.durableName);
      return settled.num_pending === 0 && settled.num_ack_pending === 0;
    }, { what: 'the event acknowledged' });
    expect(await deadLetterCount()).toBe(0);
    const rows = await directDatabase.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM media.purged WHERE user_id = $1', [userId]);
    expect(rows[0]!.n).toBe(1);
    expect(attempts.every((delivery) => delivery === 1)).toBe(true);
  }, 60_000);
});

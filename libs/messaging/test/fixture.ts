import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { DataSource } from 'typeorm';
import { ShiftableClock } from '@homiwork/clock';
import { createLogger, ServiceMetrics, type Logger } from '@homiwork/observability';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { CreateMessagingTables1764200000000, MessagingMetrics, Outbox, OutboxRelay, connectToNats, provisionStreams, type NatsHandles } from '../src/index.js';

export { SCHEMA } from './schema.js';
import { SCHEMA } from './schema.js';

/** The effect a test handler has: one row per application, no uniqueness, so a double apply shows. */
class CreateAppliedTable1764200000001 implements MigrationInterface {
  name = 'CreateAppliedTable1764200000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE ${SCHEMA}.applied (message_id text NOT NULL, user_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    await queryRunner.query(`CREATE TABLE ${SCHEMA}.accounts (user_id uuid PRIMARY KEY)`);
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${SCHEMA}.applied; DROP TABLE ${SCHEMA}.accounts`);
  }
}

export interface MessagingFixture {
  database: TestDatabase;
  dataSource: DataSource;
  namespace: string;
  nats: NatsHandles;
  logger: Logger;
  logLines: string[];
  metrics: MessagingMetrics;
  serviceMetrics: ServiceMetrics;
  outbox: Outbox;
  clock: ShiftableClock;
  newRelay(): OutboxRelay;
  appliedCount(userId?: string): Promise<number>;
  close(): Promise<void>;
}

export async function createMessagingFixture(): Promise<MessagingFixture> {
  const database = await createTestDatabase();
  const dataSource = createServiceDataSource({
    databaseUrl: database.url,
    schema: SCHEMA,
    migrations: [CreateMessagingTables1764200000000, CreateAppliedTable1764200000001],
  });
  await dataSource.initialize();
  await runMigrations(dataSource);
  const namespace = createTestNamespace();
  const nats = await connectToNats(TEST_NATS_URL, `test-${randomUUID()}`);
  await provisionStreams(nats.jsm, namespace, { maxAgeDays: 1, duplicateWindowSeconds: 120, maxBytes: 64 * 1024 ** 2, replicas: 1 });
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ service: 'messaging-test', level: 'info', destination });
  const serviceMetrics = new ServiceMetrics(`messaging-test-${randomUUID()}`);
  const metrics = new MessagingMetrics(serviceMetrics);
  const clock = new ShiftableClock();
  const outbox = new Outbox(SCHEMA, namespace, clock);
  const relays: OutboxRelay[] = [];
  return {
    database,
    dataSource,
    namespace,
    nats,
    logger,
    logLines,
    metrics,
    serviceMetrics,
    outbox,
    clock,
    newRelay() {
      const relay = new OutboxRelay({ dataSource, schema: SCHEMA, js: nats.js, logger, metrics, pollIntervalMs: 200 });
      relays.push(relay);
      return relay;
    },
    async appliedCount(userId?: string) {
      const rows = await dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ${SCHEMA}.applied ${userId ? 'WHERE user_id = $1' : ''}`, userId ? [userId] : []);
      return rows[0]!.n;
    },
    async close() {
      await Promise.all(relays.map((relay) => relay.stop()));
      await nats.nc.drain().catch(() => undefined);
      await dataSource.destroy();
      await database.drop();
    },
  };
}

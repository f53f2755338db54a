/**
 * A child process that does one step of the event pipeline and is killed (SIGKILL, no
 * cleanup, no goodbye to NATS or PostgreSQL) at the worst moment, for the crash tests.
 *   relay:    after JetStream acknowledged the publish, before the outbox rows are deleted
 *   consumer: after the handler's transaction committed, before the message is acked
 */
import 'reflect-metadata';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { createServiceDataSource } from '@homiwork/persistence';
import { connectToNats, MessagingMetrics, OutboxRelay } from '../src/index.js';
import { SCHEMA } from './schema.js';
import { newTestConsumer } from './test-consumer.js';

const [mode] = process.argv.slice(2);
const { DATABASE_URL, NATS_URL, EVENT_NAMESPACE } = process.env;
if (!DATABASE_URL || !NATS_URL || !EVENT_NAMESPACE) throw new Error('DATABASE_URL, NATS_URL and EVENT_NAMESPACE are required');

const die = (): void => {
  process.kill(process.pid, 'SIGKILL');
};
const logger = createLogger({ service: 'crash-worker', level: 'silent' });
const metrics = new MessagingMetrics(new ServiceMetrics('crash-worker'));
const dataSource = createServiceDataSource({ databaseUrl: DATABASE_URL, schema: SCHEMA, migrations: [] });
await dataSource.initialize();
const nats = await connectToNats(NATS_URL, 'crash-worker');

if (mode === 'relay') {
  await new OutboxRelay({ dataSource, schema: SCHEMA, js: nats.js, logger, metrics, hooks: { afterPublish: die } }).start();
} else if (mode === 'consumer') {
  await newTestConsumer({ dataSource, namespace: EVENT_NAMESPACE, nats, logger, metrics, ackWaitMs: 1_000, hooks: { afterCommit: die } }).start();
} else {
  throw new Error(`unknown mode ${mode}`);
}
// Not reached in a passing test: the hook kills the process first.
setTimeout(() => process.exit(3), 20_000);

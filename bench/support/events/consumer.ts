/**
 * Consumer: the library's EventConsumer, as a service runs it — durable consumer, explicit
 * acks, the handler in a transaction with the inbox insert. The handler itself does
 * nothing but note the message; each committed batch is reported with its commit time.
 */
import { EventConsumer } from '@homiwork/messaging';
import { BENCH_CONSUMER, sharedClock, type WorkerSettings } from './protocol.js';
import { openServiceSide } from './service-side.js';
import { serve, tell } from './worker-kit.js';

export async function runConsumer(settings: WorkerSettings): Promise<void> {
  const { logger, dataSource, nats, metrics, schema, close } = await openServiceSide(settings, 2);
  let batch: string[] = [];
  const consumer = new EventConsumer({
    contract: BENCH_CONSUMER,
    handler: (_payload, context) => {
      batch.push(context.messageId);
      return Promise.resolve();
    },
    namespace: settings.namespace,
    dataSource,
    schema,
    js: nats.js,
    jsm: nats.jsm,
    logger,
    metrics,
    ...(settings.batchSize ? { batchSize: settings.batchSize } : {}),
    // The library's only hook after its commit: the batch's events are applied now.
    hooks: {
      afterCommit: () => {
        if (batch.length === 0) return;
        tell({ kind: 'applied', ids: batch, at: sharedClock() });
        batch = [];
      },
    },
  });
  await consumer.start();
  serve(
    () => undefined,
    async () => {
      await consumer.stop();
      await close();
    },
  );
  tell({ kind: 'ready' });
}

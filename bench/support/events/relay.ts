/** Relay: the library's OutboxRelay, as a service runs it, with its progress reported to the bench. */
import { OutboxRelay } from '@homiwork/messaging';
import { sharedClock, type WorkerSettings } from './protocol.js';
import { openServiceSide } from './service-side.js';
import { serve, tell } from './worker-kit.js';

/** OutboxRelay unchanged, with the size and time of each non-empty batch noted. */
class MeasuredRelay extends OutboxRelay {
  published = 0;
  batches = 0;
  batchMs = 0;

  override async relayBatch(): Promise<number> {
    const started = sharedClock();
    const rows = await super.relayBatch();
    if (rows > 0) {
      this.published += rows;
      this.batches++;
      this.batchMs += sharedClock() - started;
    }
    return rows;
  }
}

export async function runRelay(settings: WorkerSettings): Promise<void> {
  const { logger, dataSource, nats, metrics, schema, close } = await openServiceSide(settings, 2);
  const relay = new MeasuredRelay({ dataSource, schema, js: nats.js, logger, metrics, ...(settings.batchSize ? { batchSize: settings.batchSize } : {}) });
  await relay.start();
  let reported = 0;
  const reporter = setInterval(() => {
    if (relay.published === reported) return;
    reported = relay.published;
    tell({ kind: 'relayed', published: relay.published, batches: relay.batches, batchMs: relay.batchMs, at: sharedClock() });
  }, 50);
  serve(
    () => undefined,
    async () => {
      clearInterval(reporter);
      await relay.stop();
      await close();
    },
  );
  tell({ kind: 'ready' });
}

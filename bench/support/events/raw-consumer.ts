/** Raw JetStream consumer: a durable pull consumer with explicit acks, reading each payload. */
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { EVENTS_STREAM, eventSubject, streamName } from '@homiwork/contracts';
import { connectToNats } from '@homiwork/messaging';
import { BENCH_EVENT, RAW_DURABLE, SENT_AT_HEADER, sharedClock, type WorkerSettings } from './protocol.js';
import { serve, tell } from './worker-kit.js';

export async function runRawConsumer(settings: WorkerSettings): Promise<void> {
  const nats = await connectToNats(settings.natsUrl, `events-bench-${settings.name}`);
  const stream = streamName(settings.namespace, EVENTS_STREAM);
  const pull = settings.window ?? 1_024;
  await nats.jsm.consumers.add(stream, {
    durable_name: RAW_DURABLE,
    filter_subject: eventSubject(settings.namespace, BENCH_EVENT),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: Math.max(1_000, pull * 2),
  });
  const consumer = await nats.js.consumers.get(stream, RAW_DURABLE);
  const messages = await consumer.consume({ max_messages: pull });
  // The run the bench announced last: how many messages make it, and their lags so far.
  let run = { count: 0, lags: [] as number[] };
  const reader = (async () => {
    for await (const msg of messages) {
      const receivedAt = sharedClock();
      msg.json(); // a consumer reads its payload
      run.lags.push(receivedAt - Number(msg.headers?.get(SENT_AT_HEADER)));
      if (run.lags.length === run.count) {
        // The last ack of the run is confirmed by the server before the clock stops.
        await msg.ackAck();
        tell({ kind: 'drained', at: sharedClock(), lags: run.lags });
      } else {
        msg.ack();
      }
    }
  })();
  serve(
    (message) => {
      if (message.kind !== 'expect') return;
      run = { count: message.count, lags: [] };
      tell({ kind: 'ready' });
    },
    async () => {
      await messages.close();
      await reader;
      await nats.nc.drain();
    },
  );
  tell({ kind: 'ready' });
}

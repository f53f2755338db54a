/** Raw JetStream publisher: js.publish with a bounded number in flight, nothing else. */
import { headers as natsHeaders } from '@nats-io/transport-node';
import { eventSubject } from '@homiwork/contracts';
import { connectToNats, EVENT_TYPE_HEADER, OCCURRED_AT_HEADER } from '@homiwork/messaging';
import { benchPayload, BENCH_EVENT, SENT_AT_HEADER, sharedClock, type WorkerSettings } from './protocol.js';
import { serve, tell } from './worker-kit.js';

export async function runRawPublisher(settings: WorkerSettings): Promise<void> {
  const nats = await connectToNats(settings.natsUrl, `events-bench-${settings.name}`);
  const subject = eventSubject(settings.namespace, BENCH_EVENT);
  const window = settings.window ?? 512;
  serve(
    async (message) => {
      if (message.kind !== 'publish') return;
      const startedAt = sharedClock();
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < message.events) {
          const i = next++;
          // The same headers the outbox relay sends, plus the send time for the lag.
          const h = natsHeaders();
          h.set(EVENT_TYPE_HEADER, BENCH_EVENT.type);
          h.set(OCCURRED_AT_HEADER, new Date().toISOString());
          h.set(SENT_AT_HEADER, String(sharedClock()));
          await nats.js.publish(subject, JSON.stringify(benchPayload()), { msgID: `${message.prefix}-${i}`, headers: h });
        }
      };
      await Promise.all(Array.from({ length: Math.min(window, message.events) }, lane));
      tell({ kind: 'published', events: message.events, startedAt, endedAt: sharedClock() });
    },
    () => nats.nc.drain(),
  );
  tell({ kind: 'ready' });
}

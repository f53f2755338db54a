import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { clockControlSubject } from '@homiwork/contracts';
import type { ShiftableClock } from '@homiwork/clock';

/**
 * The end-to-end suite moves every service's clock at once by publishing an offset on a
 * core-NATS subject. Only subscribed when CLOCK_CONTROL=enabled, which config accepts in
 * test mode only; a production service has no such subscription at all.
 */
export function listenForClockMoves(nc: NatsConnection, namespace: string, clock: ShiftableClock): Subscription {
  return nc.subscribe(clockControlSubject(namespace), {
    callback: (_error, msg) => {
      const { offsetMs } = msg.json<{ offsetMs: number }>();
      try {
        clock.setOffset(offsetMs);
        msg.respond(JSON.stringify({ ok: true, offsetMs: clock.offset }));
      } catch (error) {
        msg.respond(JSON.stringify({ ok: false, error: String(error) }));
      }
    },
  });
}

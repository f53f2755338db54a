import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { eventSubject, EVENTS_STREAM, parseEventPayload, streamName, type EventContract, type EventPayload } from '@homiwork/contracts';
import { EVENT_TYPE_HEADER, OCCURRED_AT_HEADER } from './headers.js';

// For tests and operator tooling: read what the events stream holds of one type, and put an
// event on it as its producer would (the producer's headers, a message id for the inbox).

/**
 * Every stored payload of this event type in the namespace's events stream, oldest first;
 * with `fromSequence`, only those stored at that stream sequence or later. `consumerName`
 * names the throw-away consumer, for a user whose permissions allow that name only (the
 * backup operator); the server names it otherwise.
 */
export async function readStoredEvents<E extends EventContract>(
  nc: NatsConnection,
  namespace: string,
  event: E,
  options: { fromSequence?: number; consumerName?: string } = {},
): Promise<Array<EventPayload<E>>> {
  const stream = streamName(namespace, EVENTS_STREAM);
  const jsm = await jetstreamManager(nc);
  const start = options.fromSequence === undefined ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSequence };
  const { name } = await jsm.consumers.add(stream, {
    ...(options.consumerName === undefined ? {} : { name: options.consumerName }),
    filter_subject: eventSubject(namespace, event),
    ack_policy: AckPolicy.None,
    ...start,
    inactive_threshold: 60_000_000_000,
  });
  try {
    const info = await jsm.consumers.info(stream, name);
    const payloads: Array<EventPayload<E>> = [];
    const consumer = await jetstream(nc).consumers.get(stream, name);
    while (payloads.length < info.num_pending) {
      const batch = await consumer.fetch({ max_messages: Math.min(10_000, info.num_pending - payloads.length), expires: 2_000 });
      let got = 0;
      for await (const msg of batch) {
        payloads.push(msg.json<EventPayload<E>>());
        got++;
        if (payloads.length === info.num_pending) break;
      }
      if (got === 0) break;
    }
    return payloads;
  } finally {
    await jsm.consumers.delete(stream, name);
  }
}

/** Publishes a (validated) event as its producer would; answers its message id. */
export async function publishStoredEvent<E extends EventContract>(
  nc: NatsConnection,
  namespace: string,
  event: E,
  payload: EventPayload<E>,
  options: { messageId?: string; occurredAt?: Date } = {},
): Promise<string> {
  const h = headers();
  h.set(EVENT_TYPE_HEADER, event.type);
  h.set(OCCURRED_AT_HEADER, (options.occurredAt ?? new Date()).toISOString());
  const messageId = options.messageId ?? randomUUID();
  await jetstream(nc).publish(eventSubject(namespace, event), JSON.stringify(parseEventPayload(event, payload)), { msgID: messageId, headers: h });
  return messageId;
}

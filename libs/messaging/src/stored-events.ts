import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { eventFilterSubject, eventSubject, EVENTS_STREAM, parseEventPayload, publisherMismatch, streamName, type EventContract, type EventPayload } from '@homiwork/contracts';
import { EVENT_TYPE_HEADER, OCCURRED_AT_HEADER } from './headers.js';

// For tests and operator tooling: read what the events stream holds of one type, and put an
// event on it as its producer would (the producer's headers, a message id for the inbox).

/**
 * Every stored payload of this event type in the namespace's events stream, oldest first,
 * but junk and what a consumer refuses from its announcer; with `fromSequence`, only those
 * stored at that stream sequence or later. `consumerName` names the throw-away consumer, for
 * a user whose permissions allow that name only (the backup operator); the server names it
 * otherwise.
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
    filter_subject: eventFilterSubject(namespace, event),
    ack_policy: AckPolicy.None,
    ...start,
    inactive_threshold: 60_000_000_000,
  });
  try {
    const info = await jsm.consumers.info(stream, name);
    const payloads: Array<EventPayload<E>> = [];
    const consumer = await jetstream(nc).consumers.get(stream, name);
    let read = 0;
    while (read < info.num_pending) {
      const batch = await consumer.fetch({ max_messages: Math.min(10_000, info.num_pending - read), expires: 2_000 });
      let got = 0;
      for await (const msg of batch) {
        const payload = acceptedPayload(namespace, event, msg.subject, msg.data);
        if (payload !== undefined) payloads.push(payload);
        got++;
        if (++read === info.num_pending) break;
      }
      if (got === 0) break;
    }
    return payloads;
  } finally {
    await jsm.consumers.delete(stream, name);
  }
}

/**
 * The stored JSON, unless it is not JSON or comes from an announcer that may not say it
 * (a consumer dead-letters both). Not checked against today's schema: a restore's refusal
 * checks must see every event of the type, also one an older build wrote differently.
 */
function acceptedPayload<E extends EventContract>(namespace: string, event: E, subject: string, data: Uint8Array): EventPayload<E> | undefined {
  try {
    const payload = JSON.parse(new TextDecoder().decode(data)) as EventPayload<E>;
    return publisherMismatch(namespace, event, subject, payload) === undefined ? payload : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Publishes a (validated) event as its producer would; answers its message id. An event
 * several services announce goes out under `publisher`, by default the first service its
 * contract lets announce this payload.
 */
export async function publishStoredEvent<E extends EventContract>(
  nc: NatsConnection,
  namespace: string,
  event: E,
  payload: EventPayload<E>,
  options: { messageId?: string; occurredAt?: Date; publisher?: string } = {},
): Promise<string> {
  const publisher = options.publisher ?? (event.announcedBy?.(payload) ?? event.publishers)[0];
  const h = headers();
  h.set(EVENT_TYPE_HEADER, event.type);
  h.set(OCCURRED_AT_HEADER, (options.occurredAt ?? new Date()).toISOString());
  const messageId = options.messageId ?? randomUUID();
  await jetstream(nc).publish(eventSubject(namespace, event, publisher), JSON.stringify(parseEventPayload(event, payload)), { msgID: messageId, headers: h });
  return messageId;
}

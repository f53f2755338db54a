import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { DEAD_LETTER_STREAM, EVENTS_STREAM, eventsRootSubject, streamName } from '@homiwork/contracts';
import {
  DLQ_CONSUMER_HEADER,
  DLQ_DELIVERIES_HEADER,
  DLQ_ERROR_HEADER,
  DLQ_FAILURES_HEADER,
  DLQ_ORIGINAL_SUBJECT_HEADER,
  DLQ_REASON_HEADER,
  EVENT_TYPE_HEADER,
  MESSAGE_ID_HEADER,
  REPLAY_OF_HEADER,
} from './headers.js';

/** A dead letter as an operator sees it: where it came from and why — never its payload. */
export interface DeadLetter {
  /** Its sequence in the dead-letter stream: the id `replay` takes. */
  id: number;
  consumer: string;
  eventType: string;
  reason: string;
  /** The scrubbed error summary written when it was dead-lettered. */
  error: string;
  deliveries: number;
  handlerFailures: number | undefined;
  deadLetteredAt: Date;
}

export interface ReplayedLetter {
  id: number;
  consumer: string;
  subject: string;
  /** The sequence of the replayed copy in the event stream. */
  eventSequence: number;
  /** JetStream stored nothing new: this letter was already replayed within the duplicate window. */
  duplicate: boolean;
}

/**
 * The dead-letter stream, for operators: list what is there and replay chosen letters to
 * the subject they were consumed from.
 *
 * A replay is safe to repeat and safe for the other consumers of the same subject:
 * - it carries the producer's message id in `Hw-Message-Id`, which the consumers' inbox
 *   uses as the key, so every consumer that already applied the event skips it, and a
 *   consumer applies it at most once however often it is replayed;
 * - its `Nats-Msg-Id` is new (`replay:<dead-letter stream>:<id>`): the original id could
 *   still be inside JetStream's two-minute duplicate window (an invalid payload is
 *   dead-lettered at once) and the replay would be silently dropped; a second replay of
 *   the same letter within the window is dropped instead, which is what we want;
 * - the letter is deleted from the dead-letter stream once the copy is stored; if the
 *   handler fails again, the consumer dead-letters it anew, under a new id.
 */
export class DeadLetterArchive {
  private readonly deadLetterStream: string;
  private readonly eventStream: string;

  constructor(
    private readonly nats: { js: JetStreamClient; jsm: JetStreamManager },
    private readonly namespace: string,
  ) {
    this.deadLetterStream = streamName(namespace, DEAD_LETTER_STREAM);
    this.eventStream = streamName(namespace, EVENTS_STREAM);
  }

  async list(filter: { consumer?: string } = {}): Promise<DeadLetter[]> {
    const info = await this.nats.jsm.streams.info(this.deadLetterStream);
    const total = info.state.messages;
    if (total === 0) return [];
    const reader = await this.nats.js.consumers.get(this.deadLetterStream, { deliver_policy: DeliverPolicy.All });
    const letters: DeadLetter[] = [];
    let seen = 0;
    for await (const msg of await reader.fetch({ max_messages: total, expires: 5_000 })) {
      seen++;
      const letter = describe(msg.info.streamSequence, msg.headers, new Date(Math.floor(msg.info.timestampNanos / 1_000_000)));
      if (!filter.consumer || letter.consumer === filter.consumer) letters.push(letter);
      if (seen >= total) break;
    }
    return letters;
  }

  async replay(id: number): Promise<ReplayedLetter> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error('a dead-letter id is a positive integer');
    const stored = await this.nats.jsm.streams.getMessage(this.deadLetterStream, { seq: id }).catch(() => null);
    if (!stored) throw new Error(`no dead letter ${id}`);
    const consumer = stored.header.get(DLQ_CONSUMER_HEADER);
    const subject = stored.header.get(DLQ_ORIGINAL_SUBJECT_HEADER);
    // The letter names where it goes back to: only ever a concrete subject of this namespace's event stream.
    if (!subject || !subject.startsWith(`${eventsRootSubject(this.namespace)}.`) || /[\s*>]/.test(subject)) {
      throw new Error(`dead letter ${id} does not name an event subject of this namespace`);
    }
    const messageId = originalMessageId(stored.header, consumer);
    if (!messageId) throw new Error(`dead letter ${id} carries no message id, so a replay could not be deduplicated`);
    const h = natsHeaders();
    for (const [key, values] of stored.header) {
      if (/^nats-/i.test(key) || key.startsWith('Hw-Dlq-') || key === REPLAY_OF_HEADER) continue;
      h.set(key, values[0] ?? '');
    }
    h.set(MESSAGE_ID_HEADER, messageId);
    h.set(REPLAY_OF_HEADER, String(id));
    // No `expect: { streamName }`: it is stored as a header and would travel on; the ack names the stream instead.
    const ack = await this.nats.js.publish(subject, stored.data, { msgID: `replay:${this.deadLetterStream}:${id}`, headers: h });
    if (ack.stream !== this.eventStream) throw new Error(`dead letter ${id} was replayed into ${ack.stream}, not the event stream`);
    await this.nats.jsm.streams.deleteMessage(this.deadLetterStream, id, false);
    return { id, consumer: consumer ?? 'unknown', subject, eventSequence: ack.seq, duplicate: ack.duplicate };
  }
}

function describe(id: number, h: MsgHdrs | undefined, deadLetteredAt: Date): DeadLetter {
  const failures = h?.get(DLQ_FAILURES_HEADER);
  return {
    id,
    consumer: h?.get(DLQ_CONSUMER_HEADER) || 'unknown',
    eventType: h?.get(EVENT_TYPE_HEADER) || 'unknown',
    reason: h?.get(DLQ_REASON_HEADER) || 'unknown',
    error: h?.get(DLQ_ERROR_HEADER) ?? '',
    deliveries: Number(h?.get(DLQ_DELIVERIES_HEADER) || 0),
    handlerFailures: failures ? Number(failures) : undefined,
    deadLetteredAt,
  };
}

/** The producer's id: written by the consumer since replay exists; older letters have it inside their own Nats-Msg-Id (`<consumer>:<id>`). */
function originalMessageId(h: MsgHdrs, consumer: string | undefined): string | undefined {
  const explicit = h.get(MESSAGE_ID_HEADER);
  if (explicit) return explicit;
  const own = h.get('Nats-Msg-Id');
  if (own && consumer && own.startsWith(`${consumer}:`)) return own.slice(consumer.length + 1);
  return undefined;
}

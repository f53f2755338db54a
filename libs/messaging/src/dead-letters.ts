import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { deadLetterRootSubject, DEAD_LETTER_STREAM, eventPublisherOf, EVENTS_STREAM, streamName, type ConsumerContract } from '@homiwork/contracts';
import { declaredConsumers } from './durable-consumers.js';
import {
  DLQ_CONSUMER_HEADER,
  DLQ_DELIVERIES_HEADER,
  DLQ_ERROR_HEADER,
  DLQ_EVENT_SEQUENCE_HEADER,
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
 * the subject their consumer reads.
 *
 * A letter is written by the service whose consumer gave up, and every service may write
 * letters to its own consumers' dead-letter subjects — so nothing a letter says about
 * itself is trusted:
 * - its consumer is the one its subject names (`<ns>.dlq.<durable>`: only that durable's
 *   service may publish there), and the event it goes back to is that consumer's
 *   contract's event; a letter whose headers say otherwise is refused;
 * - what is replayed is the event stored in the event stream at the letter's recorded
 *   sequence — published there by the event's producer (or by an earlier replay of it) —
 *   and only if it is on that event's subject and has the letter's bytes. A letter made
 *   up by a service (a UserDeleted for a victim, say) points at no such event and is
 *   refused; one pointing at a real event replays that event, which its consumers' inbox
 *   already knows.
 * An event that has aged out of the event stream (30 days) can no longer be replayed.
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
  private readonly consumers: Map<string, ConsumerContract>;

  constructor(
    private readonly nats: { js: JetStreamClient; jsm: JetStreamManager },
    private readonly namespace: string,
    /** The consumers whose letters may be replayed: by default every consumer the contracts declare. */
    consumers: Iterable<ConsumerContract> = declaredConsumers().values(),
  ) {
    this.deadLetterStream = streamName(namespace, DEAD_LETTER_STREAM);
    this.eventStream = streamName(namespace, EVENTS_STREAM);
    this.consumers = new Map([...consumers].map((consumer) => [consumer.durableName, consumer]));
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
      const letter = describe(msg.info.streamSequence, this.durableOf(msg.subject), msg.headers, new Date(Math.floor(msg.info.timestampNanos / 1_000_000)));
      if (!filter.consumer || letter.consumer === filter.consumer) letters.push(letter);
      if (seen >= total) break;
    }
    return letters;
  }

  async replay(id: number): Promise<ReplayedLetter> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error('a dead-letter id is a positive integer');
    const stored = await this.nats.jsm.streams.getMessage(this.deadLetterStream, { seq: id }).catch(() => null);
    if (!stored) throw new Error(`no dead letter ${id}`);
    // Who wrote the letter is known from where it was published, not from what it says.
    const durable = this.durableOf(stored.subject);
    const contract = durable === undefined ? undefined : this.consumers.get(durable);
    if (!contract) throw new Error(`dead letter ${id} is not on the dead-letter subject of a known consumer`);
    // One of the event's subjects (for an event several services announce, one per publisher).
    const isEventSubject = (subject: string | undefined) => subject !== undefined && eventPublisherOf(this.namespace, contract.event, subject) !== undefined;
    const claimed = { consumer: stored.header.get(DLQ_CONSUMER_HEADER), subject: stored.header.get(DLQ_ORIGINAL_SUBJECT_HEADER), type: stored.header.get(EVENT_TYPE_HEADER) };
    if ((claimed.consumer && claimed.consumer !== durable) || (claimed.subject && !isEventSubject(claimed.subject)) || (claimed.type && claimed.type !== contract.event.type)) {
      throw new Error(`dead letter ${id} names another consumer, subject or event type than its consumer ${durable} reads: refused`);
    }
    const original = await this.originalEvent(id, stored.header, durable!, isEventSubject);
    if (!equalBytes(original.data, stored.data)) throw new Error(`dead letter ${id} does not carry the event stored at its recorded sequence: refused`);
    if (claimed.subject && claimed.subject !== original.subject) throw new Error(`dead letter ${id} names another subject than its event's: refused`);
    const subject = original.subject;
    const messageId = original.header?.get(MESSAGE_ID_HEADER) || original.header?.get('Nats-Msg-Id') || `${this.eventStream}:${original.seq}`;
    const h = natsHeaders();
    for (const [key, values] of original.header ?? []) {
      if (/^nats-/i.test(key) || key.startsWith('Hw-Dlq-') || key === REPLAY_OF_HEADER) continue;
      h.set(key, values[0] ?? '');
    }
    h.set(MESSAGE_ID_HEADER, messageId);
    h.set(REPLAY_OF_HEADER, String(id));
    // No `expect: { streamName }`: it is stored as a header and would travel on; the ack names the stream instead.
    const ack = await this.nats.js.publish(subject, original.data, { msgID: `replay:${this.deadLetterStream}:${id}`, headers: h });
    if (ack.stream !== this.eventStream) throw new Error(`dead letter ${id} was replayed into ${ack.stream}, not the event stream`);
    await this.nats.jsm.streams.deleteMessage(this.deadLetterStream, id, false);
    return { id, consumer: durable!, subject, eventSequence: ack.seq, duplicate: ack.duplicate };
  }

  /** The durable a dead-letter subject belongs to (`<ns>.dlq.<durable>`), if it is one. */
  private durableOf(subject: string): string | undefined {
    const prefix = `${deadLetterRootSubject(this.namespace)}.`;
    if (!subject.startsWith(prefix)) return undefined;
    const durable = subject.slice(prefix.length);
    return /^[\w-]+$/.test(durable) ? durable : undefined;
  }

  /** The event the letter was made from, in the event stream, on a subject its consumer reads. */
  private async originalEvent(id: number, h: MsgHdrs, durable: string, isEventSubject: (subject: string) => boolean): Promise<{ seq: number; subject: string; data: Uint8Array; header: MsgHdrs | undefined }> {
    const sequence = Number(h.get(DLQ_EVENT_SEQUENCE_HEADER) || legacySequence(h.get('Nats-Msg-Id'), durable, this.eventStream));
    if (!Number.isSafeInteger(sequence) || sequence <= 0) throw new Error(`dead letter ${id} records no event-stream sequence, so it cannot be checked: refused`);
    const event = await this.nats.jsm.streams.getMessage(this.eventStream, { seq: sequence }).catch(() => null);
    if (!event) throw new Error(`dead letter ${id}: its event (sequence ${sequence}) is no longer in the event stream: refused`);
    if (!isEventSubject(event.subject)) throw new Error(`dead letter ${id}: the event at its recorded sequence is not on a subject its consumer reads: refused`);
    return { seq: event.seq, subject: event.subject, data: event.data, header: event.header };
  }
}

/** Letters written before the sequence header have it in their Nats-Msg-Id: `<durable>:<stream>:<sequence>`. */
function legacySequence(msgId: string | undefined, durable: string, stream: string): string {
  const prefix = `${durable}:${stream}:`;
  return msgId?.startsWith(prefix) ? msgId.slice(prefix.length) : '';
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

function describe(id: number, consumer: string | undefined, h: MsgHdrs | undefined, deadLetteredAt: Date): DeadLetter {
  const failures = h?.get(DLQ_FAILURES_HEADER);
  return {
    id,
    // From the subject it was published on, which only that consumer's service may use; never from a header.
    consumer: consumer ?? 'unknown',
    eventType: h?.get(EVENT_TYPE_HEADER) || 'unknown',
    reason: h?.get(DLQ_REASON_HEADER) || 'unknown',
    error: h?.get(DLQ_ERROR_HEADER) ?? '',
    deliveries: Number(h?.get(DLQ_DELIVERIES_HEADER) || 0),
    handlerFailures: failures ? Number(failures) : undefined,
    deadLetteredAt,
  };
}

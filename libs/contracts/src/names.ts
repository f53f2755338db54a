import type { EventContract } from './event-contract.js';
import type { ServiceName } from './services.js';

// Stream, subject and consumer names are stored identifiers: JetStream keeps state under
// them, so a rename orphans a consumer's position. They are built here and nowhere else.

export const EVENTS_STREAM = 'EVENTS';
export const DEAD_LETTER_STREAM = 'DEAD_LETTERS';

export function streamName(ns: string, stream: typeof EVENTS_STREAM | typeof DEAD_LETTER_STREAM): string {
  return `${ns.toUpperCase()}_${stream}`;
}

export function eventsRootSubject(ns: string): string {
  return `${ns}.evt`;
}

/**
 * The subject an event is published on: `<ns>.evt.<producer>.<event>.v<n>`. An event several
 * services announce (producer `any`) is published under the announcing service's name
 * instead, and NATS lets each service publish only under its own (nats-permissions.ts):
 * so a consumer knows who announced it, whatever the payload claims.
 */
export function eventSubject(ns: string, event: EventContract, publisher?: string): string {
  if (event.producer !== 'any') return `${eventsRootSubject(ns)}.${event.subjectSuffix}`;
  if (publisher === undefined || !/^[a-z][a-z0-9_-]*$/.test(publisher)) throw new Error(`${event.type} is announced by several services: its subject names the publisher`);
  return `${eventsRootSubject(ns)}.${publisher}.${anyEventTail(event)}`;
}

/** What a consumer of the event reads: the producer's subject, or every publisher's for an `any` event. */
export function eventFilterSubject(ns: string, event: EventContract): string {
  return event.producer === 'any' ? `${eventsRootSubject(ns)}.*.${anyEventTail(event)}` : eventSubject(ns, event);
}

/**
 * The service a subject of this event names as its publisher; undefined if it is not one of
 * the event's subjects. `any` is the subject such events had before each went out under its
 * announcer's name: still stored (and re-read by a durable migrate recreated), and published
 * by no service any more — NATS permissions allow each only its own name.
 */
export function eventPublisherOf(ns: string, event: EventContract, subject: string): ServiceName | 'any' | undefined {
  if (event.producer !== 'any') return subject === eventSubject(ns, event) ? event.producer : undefined;
  const prefix = `${eventsRootSubject(ns)}.`;
  const tail = `.${anyEventTail(event)}`;
  if (!subject.startsWith(prefix) || !subject.endsWith(tail)) return undefined;
  const publisher = subject.slice(prefix.length, subject.length - tail.length);
  if (publisher === 'any') return 'any';
  return event.publishers.find((service) => service === publisher);
}

/**
 * Why a message of this event cannot be believed about who announced it, or undefined: an
 * `any` event must come from a subject of one of its publishers, and that publisher must be
 * one its contract lets announce this payload (`announcedBy`).
 */
export function publisherMismatch(ns: string, event: EventContract, subject: string, payload: unknown): string | undefined {
  if (event.producer !== 'any') return undefined;
  const publisher = eventPublisherOf(ns, event, subject);
  if (publisher === undefined) return 'it was published under a subject none of its publishers may use';
  // Stored before announcers were pinned: believed as it was then (no one can publish it now).
  if (publisher === 'any') return undefined;
  if (event.announcedBy && !announcers(event, payload).includes(publisher)) return `${publisher} may not announce what it says`;
  return undefined;
}

/** Who may announce this payload; none for one that is not even shaped like the event (a consumer checks the schema first, a reader of the stream may not). */
function announcers(event: EventContract, payload: unknown): readonly string[] {
  try {
    return event.announcedBy?.(payload) ?? event.publishers;
  } catch {
    return [];
  }
}

const anyEventTail = (event: EventContract): string => event.subjectSuffix.slice('any.'.length);

export function deadLetterRootSubject(ns: string): string {
  return `${ns}.dlq`;
}

export function deadLetterSubject(ns: string, consumer: ConsumerContract): string {
  return `${deadLetterRootSubject(ns)}.${consumer.durableName}`;
}

export function rpcSubject(ns: string, service: ServiceName, method: string): string {
  return `${ns}.rpc.${service}.${method}`;
}

/** Core-NATS subject of the test-only clock switch; services subscribe only in test mode. */
export function clockControlSubject(ns: string): string {
  return `${ns}.test.clock`;
}

/**
 * A durable consumer: one service's subscription to one event. One consumer per
 * (service, event) because the NATS server here (2.9) allows one filter subject per
 * consumer, and because a poison message then stalls only its own handler.
 */
export interface ConsumerContract<E extends EventContract = EventContract> {
  readonly service: ServiceName;
  readonly event: E;
  readonly durableName: string;
  /** Deliveries before a message is dead-lettered. */
  readonly maxDeliver: number;
  /** Wait before each redelivery, in ms; its length is maxDeliver - 1. */
  readonly backoffMs: readonly number[];
}

const DEFAULT_BACKOFF_MS = [1_000, 5_000, 30_000, 120_000] as const;

export function defineConsumer<E extends EventContract>(spec: {
  service: ServiceName;
  event: E;
  backoffMs?: readonly number[];
}): ConsumerContract<E> {
  const backoffMs = spec.backoffMs ?? DEFAULT_BACKOFF_MS;
  if (backoffMs.length === 0) throw new Error('a consumer needs at least one backoff step');
  return {
    service: spec.service,
    event: spec.event,
    durableName: `${spec.service}--${spec.event.subjectSuffix.split('.').slice(1).join('-')}`,
    maxDeliver: backoffMs.length + 1,
    backoffMs,
  };
}

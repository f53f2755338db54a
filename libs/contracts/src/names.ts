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

export function eventSubject(ns: string, event: EventContract): string {
  return `${eventsRootSubject(ns)}.${event.subjectSuffix}`;
}

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

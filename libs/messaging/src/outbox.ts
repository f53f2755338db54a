import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { eventSubject, parseEventPayload, type EventContract, type EventPayload } from '@homiwork/contracts';
import { injectTraceHeaders } from '@homiwork/observability';
import type { Clock } from '@homiwork/clock';
import { EVENT_TYPE_HEADER, OCCURRED_AT_HEADER } from './headers.js';

/**
 * Writes events into the service's outbox table inside the caller's transaction, so an
 * event exists if and only if the change it announces was committed (R8.2).
 */
export class Outbox {
  /** `publisher`: the service whose outbox this is (its schema carries its name), the subject's publisher for events several services announce. */
  constructor(
    private readonly schema: string,
    private readonly namespace: string,
    private readonly clock: Clock,
    private readonly publisher: string = schema,
  ) {}

  /**
   * Validates the payload against the event's schema (an invalid event is a bug in the
   * caller and throws before anything is written) and appends it. Returns the message id.
   */
  async append<E extends EventContract>(manager: EntityManager, event: E, payload: EventPayload<E>): Promise<string> {
    const [id] = await this.appendAll(manager, event, [payload]);
    return id!;
  }

  /**
   * Several events of one type in one statement (a batch job announcing many expiries):
   * one round trip instead of one per event. All are validated before any is written.
   */
  async appendAll<E extends EventContract>(manager: EntityManager, event: E, payloads: ReadonlyArray<EventPayload<E>>): Promise<string[]> {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new Error(`${event.type} must be appended inside the transaction of the change it announces`);
    }
    if (payloads.length === 0) return [];
    const valid = payloads.map((payload) => JSON.stringify(parseEventPayload(event, payload)));
    const ids = payloads.map(() => randomUUID());
    const occurredAt = this.clock.now().toISOString();
    // The trace context of the request that caused the change travels with the event,
    // so the consumer's span joins the producer's trace although the relay sends it later.
    const headers = JSON.stringify(injectTraceHeaders({ [EVENT_TYPE_HEADER]: event.type, [OCCURRED_AT_HEADER]: occurredAt }));
    await manager.query(
      `INSERT INTO "${this.schema}".outbox (id, type, subject, payload, headers, occurred_at)
       SELECT id, $3, $4, payload, $5::jsonb, $6 FROM unnest($1::uuid[], $2::jsonb[]) AS rows (id, payload)`,
      [ids, valid, event.type, eventSubject(this.namespace, event, this.publisher), headers, occurredAt],
    );
    return ids;
  }
}

import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import type { DataSource, EntityManager } from 'typeorm';
import {
  deadLetterSubject,
  eventSubject,
  EVENTS_STREAM,
  InvalidEventPayloadError,
  parseEventPayload,
  streamName,
  type ConsumerContract,
  type EventContract,
  type EventPayload,
} from '@homiwork/contracts';
import { extractTraceContext, scrubPersonalData, withSpan, type Logger } from '@homiwork/observability';
import { withinTransaction } from '@homiwork/persistence';
import {
  DLQ_CONSUMER_HEADER,
  DLQ_DELIVERIES_HEADER,
  DLQ_ERROR_HEADER,
  DLQ_ORIGINAL_SUBJECT_HEADER,
  DLQ_REASON_HEADER,
  EVENT_TYPE_HEADER,
  OCCURRED_AT_HEADER,
} from './headers.js';
import type { MessagingMetrics } from './messaging-metrics.js';

export interface EventContext {
  /** The transaction the handler must use for its writes; it commits with the inbox record. */
  readonly manager: EntityManager;
  /** The producer's outbox id: stable across redeliveries, fit for PurgeCompleted.trigger. */
  readonly messageId: string;
  readonly occurredAt: Date | undefined;
  readonly deliveryCount: number;
}

export type EventHandler<E extends EventContract> = (payload: EventPayload<E>, context: EventContext) => Promise<void>;

export interface EventConsumerOptions<E extends EventContract> {
  contract: ConsumerContract<E>;
  handler: EventHandler<E>;
  namespace: string;
  dataSource: DataSource;
  schema: string;
  js: JetStreamClient;
  jsm: JetStreamManager;
  logger: Logger;
  metrics: MessagingMetrics;
  /** Messages applied in one transaction when they arrive faster than they are handled. */
  batchSize?: number;
  /** How long a delivery may stay unacknowledged before the server redelivers it. */
  ackWaitMs?: number;
  /** Fault-injection seam for crash tests: runs after the batch's transaction committed, before the acks. */
  hooks?: { afterCommit?: () => void };
}

interface Decoded<E extends EventContract> {
  msg: JsMsg;
  messageId: string;
  payload: EventPayload<E>;
  occurredAt: Date | undefined;
}

type Failure = { msg: JsMsg; reason: 'invalid_payload' | 'handler_failed'; error: string };

/**
 * A durable JetStream consumer whose handler runs inside a database transaction that
 * also records the message id in the inbox. The message is acknowledged only after that
 * transaction commits, so a crash before the ack leads to a redelivery that the inbox
 * recognises and skips: every event is applied exactly once in effect (R8.2).
 *
 * Failures are retried with the contract's backoff; after maxDeliver attempts, or at once
 * for a payload that fails its schema, the message moves to the dead-letter stream and
 * the consumer goes on with the messages behind it.
 */
export class EventConsumer<E extends EventContract> {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly batchSize: number;
  private readonly label: string;

  constructor(private readonly options: EventConsumerOptions<E>) {
    this.batchSize = options.batchSize ?? 64;
    this.label = options.contract.durableName;
  }

  /** Creates the durable consumer or brings its settings up to date. */
  async provision(): Promise<void> {
    const { jsm, namespace, contract } = this.options;
    const stream = streamName(namespace, EVENTS_STREAM);
    const config: Partial<ConsumerConfig> = {
      durable_name: contract.durableName,
      filter_subject: eventSubject(namespace, contract.event),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: (this.options.ackWaitMs ?? 30_000) * 1_000_000,
      // One more than ours, so it is always this code that dead-letters, never the server that gives up silently.
      max_deliver: contract.maxDeliver + 1,
      max_ack_pending: this.batchSize * 4,
    };
    const exists = await jsm.consumers.info(stream, contract.durableName).then(
      () => true,
      () => false,
    );
    if (exists) await jsm.consumers.update(stream, contract.durableName, config);
    else await jsm.consumers.add(stream, config);
  }

  async start(): Promise<void> {
    await this.provision();
    const consumer = await this.options.js.consumers.get(streamName(this.options.namespace, EVENTS_STREAM), this.options.contract.durableName);
    const messages = await consumer.consume({ max_messages: this.batchSize * 2 });
    this.messages = messages;
    this.loop = this.run(messages);
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    const queue: JsMsg[] = [];
    let notify: (() => void) | undefined;
    let ended = false;
    const reader = (async () => {
      for await (const msg of messages) {
        queue.push(msg);
        notify?.();
      }
      ended = true;
      notify?.();
    })();
    while (!ended || queue.length > 0) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => (notify = resolve));
        notify = undefined;
        continue;
      }
      const batch = queue.splice(0, this.batchSize);
      try {
        await this.handleBatch(batch);
      } catch (error) {
        // Only infrastructure failures get here (database down): retry the whole batch later.
        this.options.logger.error({ err: error, consumer: this.label }, 'event batch failed; will be redelivered');
        for (const msg of batch) msg.nak(this.backoffFor(msg));
      }
    }
    await reader;
  }

  private async handleBatch(batch: JsMsg[]): Promise<void> {
    const valid: Array<Decoded<E>> = [];
    const failures: Failure[] = [];
    for (const msg of batch) {
      try {
        valid.push(this.decode(msg));
      } catch (error) {
        const schemaError = error instanceof InvalidEventPayloadError ? error.schemaError : 'payload is not JSON';
        failures.push({ msg, reason: 'invalid_payload', error: schemaError });
      }
    }
    const started = performance.now();
    let results: Map<JsMsg, 'processed' | 'duplicate' | Failure>;
    try {
      results = await this.applyTogether(valid);
    } catch (error) {
      if (!(error instanceof HandlerFailed)) throw error;
      // One handler failed and the batch rolled back: that message has failed this delivery;
      // apply the others one by one so a bad message cannot hold back the rest.
      results = new Map();
      for (const decoded of valid) {
        results.set(decoded.msg, decoded.msg === error.msg ? { msg: decoded.msg, reason: 'handler_failed', error: errorSummary(error.cause) } : await this.applyAlone(decoded));
      }
    }
    this.options.hooks?.afterCommit?.();
    const perMessage = valid.length > 0 ? (performance.now() - started) / 1000 / valid.length : 0;

    for (const decoded of valid) {
      const result = results.get(decoded.msg)!;
      if (result === 'processed' || result === 'duplicate') {
        decoded.msg.ack();
        this.options.metrics.consumed.inc({ consumer: this.label, outcome: result });
        this.options.metrics.handlerSeconds.observe({ consumer: this.label }, perMessage);
        if (decoded.occurredAt && result === 'processed') {
          this.options.metrics.lagSeconds.observe({ consumer: this.label }, Math.max(0, Date.now() - decoded.occurredAt.getTime()) / 1000);
        }
      } else {
        failures.push(result);
      }
    }
    for (const failure of failures) await this.fail(failure);
  }

  private decode(msg: JsMsg): Decoded<E> {
    let raw: unknown;
    try {
      raw = msg.json();
    } catch {
      throw new Error('payload is not JSON');
    }
    const payload = parseEventPayload(this.options.contract.event, raw) as EventPayload<E>;
    const occurred = msg.headers?.get(OCCURRED_AT_HEADER);
    return {
      msg,
      payload,
      messageId: msg.headers?.get('Nats-Msg-Id') || `${msg.info.stream}:${msg.info.streamSequence}`,
      occurredAt: occurred ? new Date(occurred) : undefined,
    };
  }

  /** Fast path: the whole batch in one transaction. Throws if any handler throws. */
  private async applyTogether(batch: Array<Decoded<E>>): Promise<Map<JsMsg, 'processed' | 'duplicate'>> {
    const results = new Map<JsMsg, 'processed' | 'duplicate'>();
    if (batch.length === 0) return results;
    await this.options.dataSource.transaction(async (manager) => {
      const fresh = await this.recordInInbox(manager, batch.map((decoded) => decoded.messageId));
      for (const decoded of batch) {
        if (!fresh.delete(decoded.messageId)) {
          results.set(decoded.msg, 'duplicate');
          continue;
        }
        await this.invoke(manager, decoded).catch((error: unknown) => {
          throw new HandlerFailed(decoded.msg, error);
        });
        results.set(decoded.msg, 'processed');
      }
    });
    return results;
  }

  private async applyAlone(decoded: Decoded<E>): Promise<'processed' | 'duplicate' | Failure> {
    try {
      return await this.options.dataSource.transaction(async (manager) => {
        const fresh = await this.recordInInbox(manager, [decoded.messageId]);
        if (fresh.size === 0) return 'duplicate';
        await this.invoke(manager, decoded);
        return 'processed';
      });
    } catch (error) {
      return { msg: decoded.msg, reason: 'handler_failed', error: errorSummary(error) };
    }
  }

  /** Inserts the ids; returns those not seen before (a set, so a batch holding one id twice applies it once). */
  private async recordInInbox(manager: EntityManager, messageIds: string[]): Promise<Set<string>> {
    const rows = await manager.query<Array<{ message_id: string }>>(
      `INSERT INTO "${this.options.schema}".inbox (consumer, message_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING message_id`,
      [this.label, messageIds],
    );
    return new Set(rows.map((row) => row.message_id));
  }

  private invoke(manager: EntityManager, decoded: Decoded<E>): Promise<void> {
    const carrier: Record<string, string | undefined> = {};
    for (const [key, values] of decoded.msg.headers ?? []) carrier[key.toLowerCase()] = values[0];
    return withSpan(
      `consume ${this.options.contract.event.type}`,
      { kind: SpanKind.CONSUMER, parent: extractTraceContext(carrier), attributes: { 'messaging.system': 'nats', 'messaging.consumer.group.name': this.label } },
      () =>
        // The batch transaction is also the ambient one, so the handler's use cases and
        // repositories (libs/persistence) write in it without being handed the manager.
        withinTransaction(manager, () =>
          this.options.handler(decoded.payload, {
            manager,
            messageId: decoded.messageId,
            occurredAt: decoded.occurredAt,
            deliveryCount: decoded.msg.info.deliveryCount,
          }),
        ),
    );
  }

  private async fail(failure: Failure): Promise<void> {
    const { msg } = failure;
    const { metrics, logger, contract } = this.options;
    const exhausted = msg.info.deliveryCount >= contract.maxDeliver;
    if (failure.reason === 'handler_failed' && !exhausted) {
      msg.nak(this.backoffFor(msg));
      metrics.consumed.inc({ consumer: this.label, outcome: 'retried' });
      logger.warn({ consumer: this.label, deliveries: msg.info.deliveryCount, error: failure.error }, 'event handler failed; will retry');
      return;
    }
    try {
      await this.deadLetter(msg, failure);
    } catch (error) {
      logger.error({ err: error, consumer: this.label }, 'dead-letter publish failed; will retry');
      msg.nak(this.backoffFor(msg));
      return;
    }
    msg.term(failure.reason);
    metrics.consumed.inc({ consumer: this.label, outcome: failure.reason === 'invalid_payload' ? 'invalid' : 'dead_lettered' });
    metrics.deadLettered.inc({ consumer: this.label, reason: failure.reason });
    logger.error(
      { consumer: this.label, eventType: contract.event.type, reason: failure.reason, deliveries: msg.info.deliveryCount, [failure.reason === 'invalid_payload' ? 'schemaError' : 'error']: failure.error },
      'event dead-lettered',
    );
  }

  private async deadLetter(msg: JsMsg, failure: Failure): Promise<void> {
    const { js, namespace, contract } = this.options;
    const h = natsHeaders();
    for (const [key, values] of msg.headers ?? []) if (key !== 'Nats-Msg-Id') h.set(key, values[0] ?? '');
    h.set(EVENT_TYPE_HEADER, msg.headers?.get(EVENT_TYPE_HEADER) || contract.event.type);
    h.set(DLQ_REASON_HEADER, failure.reason);
    h.set(DLQ_ERROR_HEADER, failure.error);
    h.set(DLQ_CONSUMER_HEADER, contract.durableName);
    h.set(DLQ_DELIVERIES_HEADER, String(msg.info.deliveryCount));
    h.set(DLQ_ORIGINAL_SUBJECT_HEADER, msg.subject);
    const originalId = msg.headers?.get('Nats-Msg-Id') || `${msg.info.stream}:${msg.info.streamSequence}`;
    await js.publish(deadLetterSubject(namespace, contract), msg.data, { msgID: `${contract.durableName}:${originalId}`, headers: h });
  }

  private backoffFor(msg: JsMsg): number {
    const steps = this.options.contract.backoffMs;
    return steps[Math.min(msg.info.deliveryCount - 1, steps.length - 1)] ?? steps[steps.length - 1]!;
  }
}

class HandlerFailed extends Error {
  constructor(
    readonly msg: JsMsg,
    override readonly cause: unknown,
  ) {
    super('event handler failed');
  }
}

/** The error's class and scrubbed message, short enough for a header and free of personal data. */
function errorSummary(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return scrubPersonalData(text).slice(0, 300);
}

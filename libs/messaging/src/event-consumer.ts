import { type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import type { DataSource, EntityManager } from 'typeorm';
import {
  deadLetterSubject,
  EVENTS_STREAM,
  InvalidEventPayloadError,
  parseEventPayload,
  publisherMismatch,
  streamName,
  type ConsumerContract,
  type EventContract,
  type EventPayload,
} from '@homiwork/contracts';
import { extractTraceContext, scrubPersonalData, withSpan, type Logger } from '@homiwork/observability';
import { withinTransaction } from '@homiwork/persistence';
import { consumerConfigDifferences, DEFAULT_CONSUMER_TUNING, durableConsumerConfig } from './durable-consumers.js';
import { isInfrastructureFailure } from './failure-kind.js';
import { provisionOrExplain } from './provisioning.js';
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
  OCCURRED_AT_HEADER,
} from './headers.js';
import type { DeadLetterReason, MessagingMetrics } from './messaging-metrics.js';

export interface EventContext {
  /** The transaction the handler must use for its writes; it commits with the inbox record. */
  readonly manager: EntityManager;
  /** The producer's outbox id: stable across redeliveries and replays, fit for PurgeCompleted.trigger. */
  readonly messageId: string;
  readonly occurredAt: Date | undefined;
  readonly deliveryCount: number;
  /** The message's sequence in the events stream: what came before it there has a lower one (a consumer's ack floor can be compared with it). */
  readonly streamSequence: number;
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
  /** How long a delivery may stay unacknowledged before the server redelivers it; messages in hand are kept alive with `working()`. */
  ackWaitMs?: number;
  /** While a dependency is unreachable: the first wait before trying the held messages again, doubling up to `maxMs`. */
  dependencyRetry?: { initialMs: number; maxMs: number };
  /** Fault-injection seam for crash tests: runs after the batch's transaction committed, before the acks. */
  hooks?: { afterCommit?: () => void };
}

interface Decoded<E extends EventContract> {
  msg: JsMsg;
  messageId: string;
  payload: EventPayload<E>;
  occurredAt: Date | undefined;
}

type Failure = { msg: JsMsg; reason: DeadLetterReason; error: string };
/** A message that could not be settled because a dependency is unreachable: held, tried again later. */
type Blocked = { msg: JsMsg; blocked: true; error: unknown };
type Result = 'processed' | 'duplicate' | Failure | Blocked;

/** An id longer than this, or not printable, is not one our producers write. */
const MAX_MESSAGE_ID_LENGTH = 200;
/** Handler-failure counts kept per consumer; the oldest are forgotten first (a restart forgets all: more attempts, never fewer). */
const MAX_TRACKED_FAILURES = 10_000;
const DEFAULT_DEPENDENCY_RETRY = { initialMs: 500, maxMs: 10_000 };

/**
 * A durable JetStream consumer whose handler runs inside a database transaction that
 * also records the message id in the inbox. The message is acknowledged only after that
 * transaction commits, so a crash before the ack leads to a redelivery that the inbox
 * recognises and skips: every event is applied exactly once in effect (R8.2).
 *
 * Two kinds of failure, two treatments:
 * - **The handler's own failure** (or a malformed message): counted here, per message;
 *   retried with the contract's backoff, then — or at once for a malformed message —
 *   moved to the dead-letter stream, and the consumer goes on with the messages behind it.
 * - **An unreachable dependency** (database, NATS; see `isInfrastructureFailure`): the
 *   messages are held, not nak'ed — kept alive with `working()` so the server neither
 *   redelivers them nor counts a delivery — and tried again, with a growing pause, until
 *   the dependency answers. Nothing is counted or dead-lettered meanwhile, and
 *   `waitingForDependency` is true (the service's readiness goes red). The server's
 *   `max_deliver` is unlimited: whatever happens (a crash, a long NATS outage), the server
 *   never gives up on a message on its own; only this code dead-letters, and only for the
 *   handler's failures.
 */
export class EventConsumer<E extends EventContract> {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private waitingSince: number | undefined;
  private readonly batchSize: number;
  private readonly ackWaitMs: number;
  private readonly label: string;
  /** Delivered and not yet acked, nak'ed or terminated: kept alive by the heartbeat. */
  private readonly inHand = new Set<JsMsg>();
  /** Handler failures per stream sequence (redeliveries of one message share it). */
  private readonly handlerFailures = new Map<number, number>();

  constructor(private readonly options: EventConsumerOptions<E>) {
    this.batchSize = options.batchSize ?? DEFAULT_CONSUMER_TUNING.batchSize;
    this.ackWaitMs = options.ackWaitMs ?? DEFAULT_CONSUMER_TUNING.ackWaitMs;
    this.label = options.contract.durableName;
  }

  /** True while the consumer holds messages because the database or NATS is unreachable. */
  get waitingForDependency(): boolean {
    return this.waitingSince !== undefined;
  }

  get name(): string {
    return this.label;
  }

  /**
   * Verifies the durable migrate provisioned: it exists with the configuration its contract
   * gives (durableConsumerConfig). Missing or different, it is created or brought back to
   * it where the server allows (a server without users, in tests); a service's user may
   * not, and start-up fails saying to run migrate.
   */
  async provision(): Promise<void> {
    const { jsm, namespace, contract } = this.options;
    const stream = streamName(namespace, EVENTS_STREAM);
    const expected = durableConsumerConfig(namespace, contract, { batchSize: this.batchSize, ackWaitMs: this.ackWaitMs });
    const found = await jsm.consumers.info(stream, contract.durableName).catch((error: unknown) => {
      if (error instanceof Error && /consumer not found/i.test(error.message)) return null;
      throw error;
    });
    if (!found) {
      await provisionOrExplain(`durable consumer ${contract.durableName} does not exist`, () => jsm.consumers.add(stream, expected));
      return;
    }
    const differences = consumerConfigDifferences(found.config, expected);
    if (differences.length === 0) return;
    this.options.logger.warn({ consumer: this.label, differences }, 'durable consumer differs from its contract; provisioning it again');
    await provisionOrExplain(`durable consumer ${contract.durableName} differs from its contract (${differences.join(', ')})`, async () => {
      // A push consumer or another filter cannot be turned back in place: start it again from the contract.
      if (found.config.deliver_subject || found.config.filter_subject !== expected.filter_subject) {
        await jsm.consumers.delete(stream, contract.durableName);
        await jsm.consumers.add(stream, expected);
      } else await jsm.consumers.update(stream, contract.durableName, expected);
    });
  }

  async start(): Promise<void> {
    await this.provision();
    const consumer = await this.options.js.consumers.get(streamName(this.options.namespace, EVENTS_STREAM), this.options.contract.durableName);
    const messages = await consumer.consume({ max_messages: this.batchSize * 2 });
    this.messages = messages;
    this.options.metrics.initConsumer(this.label);
    // Long batches and held messages must not outlive the ack wait: tell the server we are on them.
    this.heartbeat = setInterval(() => this.keepInHandAlive(), Math.max(50, Math.floor(this.ackWaitMs / 3)));
    this.heartbeat.unref();
    this.loop = this.run(messages).catch((error: unknown) => {
      this.options.logger.error({ err: error, consumer: this.label }, 'event consumer loop failed');
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.messages?.close();
    await this.loop;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private keepInHandAlive(): void {
    for (const msg of this.inHand) msg.working();
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    const queue: JsMsg[] = [];
    let notify: (() => void) | undefined;
    let ended = false;
    const reader = (async () => {
      try {
        for await (const msg of messages) {
          if (msg.info.deliveryCount > 1) this.options.metrics.redelivered.inc({ consumer: this.label });
          this.inHand.add(msg);
          queue.push(msg);
          notify?.();
        }
      } catch (error) {
        this.options.logger.error({ err: error, consumer: this.label }, 'event subscription ended with an error');
      }
      ended = true;
      notify?.();
    })();
    let abandoned = false;
    while (!ended || queue.length > 0) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => (notify = resolve));
        notify = undefined;
        continue;
      }
      if (abandoned) {
        for (const msg of queue.splice(0)) this.settle(msg, 'nak');
        continue;
      }
      let pending = queue.splice(0, this.batchSize);
      for (let attempt = 0; pending.length > 0; attempt++) {
        pending = await this.handleBatch(pending);
        if (pending.length === 0) break;
        if (this.stopping) {
          // Shutting down while a dependency is away: hand the held messages back now, so
          // another instance takes them at once instead of after the ack wait.
          abandoned = true;
          for (const msg of pending) this.settle(msg, 'nak');
          break;
        }
        await this.waitForDependency(attempt);
      }
      this.dependencyBack();
    }
    await reader;
  }

  /** Pauses before the held messages are tried again; the first call marks the consumer as waiting. */
  private async waitForDependency(attempt: number): Promise<void> {
    if (this.waitingSince === undefined) {
      this.waitingSince = Date.now();
      this.options.metrics.consumerWaiting.set({ consumer: this.label }, 1);
    }
    const { initialMs, maxMs } = this.options.dependencyRetry ?? DEFAULT_DEPENDENCY_RETRY;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private dependencyBack(): void {
    if (this.waitingSince === undefined) return;
    this.options.logger.info({ consumer: this.label, waitedMs: Date.now() - this.waitingSince }, 'event consumer resumed: its dependencies answer again');
    this.waitingSince = undefined;
    this.options.metrics.consumerWaiting.set({ consumer: this.label }, 0);
  }

  /** Applies what it can; returns the messages held because a dependency is unreachable. */
  private async handleBatch(batch: JsMsg[]): Promise<JsMsg[]> {
    try {
      return await this.applyBatch(batch);
    } catch (error) {
      // Our own machinery failed outside any handler (a bug or a dependency): never the messages' fault.
      this.reportBlocked(error, batch.length);
      return batch;
    }
  }

  private async applyBatch(batch: JsMsg[]): Promise<JsMsg[]> {
    const valid: Array<Decoded<E>> = [];
    const failures: Failure[] = [];
    for (const msg of batch) {
      const decoded = this.decode(msg);
      if ('reason' in decoded) failures.push(decoded);
      else valid.push(decoded);
    }
    const started = performance.now();
    let results: Map<JsMsg, Result>;
    try {
      results = await this.applyTogether(valid);
    } catch (error) {
      if (!(error instanceof HandlerFailed) || isInfrastructureFailure(error.cause)) {
        // The whole batch rolled back and nothing was wrong with the messages: hold them all.
        this.reportBlocked(error instanceof HandlerFailed ? error.cause : error, valid.length);
        results = new Map(valid.map((decoded) => [decoded.msg, { msg: decoded.msg, blocked: true, error }]));
      } else {
        // One handler failed and the batch rolled back: that message has failed this delivery;
        // apply the others one by one so a bad message cannot hold back the rest.
        results = new Map();
        for (const decoded of valid) {
          results.set(decoded.msg, decoded.msg === error.msg ? { msg: decoded.msg, reason: 'handler_failed', error: errorSummary(error.cause) } : await this.applyAlone(decoded));
        }
      }
    }
    this.options.hooks?.afterCommit?.();
    const perMessage = valid.length > 0 ? (performance.now() - started) / 1000 / valid.length : 0;

    const held: JsMsg[] = [];
    for (const decoded of valid) {
      const result = results.get(decoded.msg)!;
      if (result === 'processed' || result === 'duplicate') {
        this.settle(decoded.msg, 'ack');
        this.options.metrics.consumed.inc({ consumer: this.label, outcome: result });
        this.options.metrics.handlerSeconds.observe({ consumer: this.label }, perMessage);
        if (decoded.occurredAt && result === 'processed') {
          this.options.metrics.lagSeconds.observe({ consumer: this.label }, Math.max(0, Date.now() - decoded.occurredAt.getTime()) / 1000);
        }
      } else if ('blocked' in result) {
        held.push(result.msg);
      } else {
        failures.push(result);
      }
    }
    for (const failure of failures) if (!(await this.fail(failure))) held.push(failure.msg);
    return held;
  }

  /** A decoded message, or why it can never be applied (it goes to the dead letters at once). */
  private decode(msg: JsMsg): Decoded<E> | Failure {
    const invalid = (error: string): Failure => ({ msg, reason: 'invalid_payload', error });
    const eventType = msg.headers?.get(EVENT_TYPE_HEADER);
    if (eventType && eventType !== this.options.contract.event.type) return invalid(`header ${EVENT_TYPE_HEADER} names another event type`);
    const messageId = messageIdOf(msg);
    if (messageId.length > MAX_MESSAGE_ID_LENGTH || !/^[\x21-\x7e]+$/.test(messageId)) return invalid('the message id header is malformed');
    if (msg.data.length === 0) return invalid('payload is empty');
    let raw: unknown;
    try {
      raw = JSON.parse(strictUtf8.decode(msg.data));
    } catch (error) {
      return invalid(error instanceof TypeError ? 'payload is not valid UTF-8' : 'payload is not JSON');
    }
    let payload: EventPayload<E>;
    try {
      payload = parseEventPayload(this.options.contract.event, raw);
    } catch (error) {
      return invalid(error instanceof InvalidEventPayloadError ? error.schemaError : 'payload failed its schema');
    }
    const mismatch = publisherMismatch(this.options.namespace, this.options.contract.event, msg.subject, payload);
    if (mismatch !== undefined) return invalid(mismatch);
    // Occurred-at only feeds the lag metric: an unreadable one is ignored, not a reason to refuse the event.
    const occurred = msg.headers?.get(OCCURRED_AT_HEADER);
    const occurredAt = occurred ? new Date(occurred) : undefined;
    return { msg, payload, messageId, occurredAt: occurredAt && !Number.isNaN(occurredAt.getTime()) ? occurredAt : undefined };
  }

  /** Fast path: the whole batch in one transaction. Throws if any handler throws. */
  private async applyTogether(batch: Array<Decoded<E>>): Promise<Map<JsMsg, Result>> {
    const results = new Map<JsMsg, Result>();
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

  private async applyAlone(decoded: Decoded<E>): Promise<Result> {
    let inHandler = false;
    try {
      return await this.options.dataSource.transaction(async (manager) => {
        const fresh = await this.recordInInbox(manager, [decoded.messageId]);
        if (fresh.size === 0) return 'duplicate';
        inHandler = true;
        await this.invoke(manager, decoded);
        inHandler = false;
        return 'processed';
      });
    } catch (error) {
      if (!inHandler || isInfrastructureFailure(error)) return { msg: decoded.msg, blocked: true, error };
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
            streamSequence: decoded.msg.info.streamSequence,
          }),
        ),
    );
  }

  /** Retries or dead-letters a failed message; false when the dead letter could not be written (NATS down: hold it). */
  private async fail(failure: Failure): Promise<boolean> {
    const { msg } = failure;
    const { metrics, logger, contract } = this.options;
    const failures = failure.reason === 'handler_failed' ? this.countHandlerFailure(msg) : 0;
    if (failure.reason === 'handler_failed' && failures < contract.maxDeliver) {
      this.settle(msg, 'nak', this.backoffAfter(failures));
      metrics.consumed.inc({ consumer: this.label, outcome: 'retried' });
      logger.warn({ consumer: this.label, failures, deliveries: msg.info.deliveryCount, error: failure.error }, 'event handler failed; will retry');
      return true;
    }
    try {
      await this.deadLetter(msg, failure, failures);
    } catch (error) {
      logger.error({ err: error, consumer: this.label }, 'dead-letter publish failed; holding the message until NATS answers');
      if (failure.reason === 'handler_failed') this.handlerFailures.set(msg.info.streamSequence, failures - 1); // the next attempt counts it again
      return false;
    }
    this.settle(msg, 'term');
    metrics.consumed.inc({ consumer: this.label, outcome: failure.reason === 'invalid_payload' ? 'invalid' : 'dead_lettered' });
    metrics.deadLettered.inc({ consumer: this.label, reason: failure.reason });
    logger.error(
      { consumer: this.label, eventType: contract.event.type, reason: failure.reason, deliveries: msg.info.deliveryCount, failures, [failure.reason === 'invalid_payload' ? 'schemaError' : 'error']: failure.error },
      'event dead-lettered',
    );
    return true;
  }

  private countHandlerFailure(msg: JsMsg): number {
    const key = msg.info.streamSequence;
    const failures = (this.handlerFailures.get(key) ?? 0) + 1;
    this.handlerFailures.delete(key);
    this.handlerFailures.set(key, failures);
    if (this.handlerFailures.size > MAX_TRACKED_FAILURES) this.handlerFailures.delete(this.handlerFailures.keys().next().value!);
    return failures;
  }

  private async deadLetter(msg: JsMsg, failure: Failure, failures: number): Promise<void> {
    const { js, namespace, contract } = this.options;
    const h = natsHeaders();
    // Server directives (Nats-Msg-Id, Nats-Expected-Stream, …) are stored with a message; copied onto
    // the dead letter they would be obeyed again (a wrong expected stream refuses the publish for good).
    for (const [key, values] of msg.headers ?? []) if (!/^nats-/i.test(key) && !key.startsWith('Hw-Dlq-')) h.set(key, values[0] ?? '');
    h.set(EVENT_TYPE_HEADER, contract.event.type);
    const originalId = messageIdOf(msg);
    if (originalId.length <= MAX_MESSAGE_ID_LENGTH && /^[\x21-\x7e]+$/.test(originalId)) h.set(MESSAGE_ID_HEADER, originalId);
    else h.delete(MESSAGE_ID_HEADER);
    h.set(DLQ_REASON_HEADER, failure.reason);
    h.set(DLQ_ERROR_HEADER, headerSafe(failure.error));
    h.set(DLQ_CONSUMER_HEADER, contract.durableName);
    h.set(DLQ_DELIVERIES_HEADER, String(msg.info.deliveryCount));
    h.set(DLQ_FAILURES_HEADER, String(failures));
    h.set(DLQ_ORIGINAL_SUBJECT_HEADER, msg.subject);
    h.set(DLQ_EVENT_SEQUENCE_HEADER, String(msg.info.streamSequence));
    // The stream sequence makes each arrival its own dead letter (a replay that fails again is
    // dead-lettered again) while a redelivery of one arrival — a crash before term — is stored once.
    await js.publish(deadLetterSubject(namespace, contract), msg.data, { msgID: `${contract.durableName}:${msg.info.stream}:${msg.info.streamSequence}`, headers: h });
  }

  private settle(msg: JsMsg, how: 'ack' | 'nak' | 'term', delayMs?: number): void {
    this.inHand.delete(msg);
    if (how !== 'nak') this.handlerFailures.delete(msg.info.streamSequence);
    if (how === 'ack') msg.ack();
    else if (how === 'nak') msg.nak(delayMs);
    // No reason on term: NATS 2.9 does not recognise `+TERM <reason>` and ignores it (the message
    // would come back after the ack wait). The reason travels in the dead letter's headers.
    else msg.term();
  }

  private backoffAfter(failures: number): number {
    const steps = this.options.contract.backoffMs;
    return steps[Math.min(failures - 1, steps.length - 1)] ?? steps[steps.length - 1]!;
  }

  private reportBlocked(error: unknown, messages: number): void {
    this.options.metrics.consumed.inc({ consumer: this.label, outcome: 'held' }, messages);
    if (this.waitingSince === undefined) {
      this.options.logger.error({ err: error, consumer: this.label, messages, infrastructure: isInfrastructureFailure(error) }, 'event batch held: a dependency is unreachable; will try again');
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The inbox key: the id the producer gave the event, kept across dead-lettering and replay. */
function messageIdOf(msg: JsMsg): string {
  return msg.headers?.get(MESSAGE_ID_HEADER) || msg.headers?.get('Nats-Msg-Id') || `${msg.info.stream}:${msg.info.streamSequence}`;
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

/** Header values are one line of printable text. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, ' ').slice(0, 300);
}

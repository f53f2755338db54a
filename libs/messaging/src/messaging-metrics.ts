import type { ServiceMetrics } from '@homiwork/observability';

export const CONSUME_OUTCOMES = ['processed', 'duplicate', 'retried', 'dead_lettered', 'invalid', 'held'] as const;
export type ConsumeOutcome = (typeof CONSUME_OUTCOMES)[number];
/** The events that ask a data-owning service for a purge, and `scheduled` for its own sweep: the known `trigger`s of purges_completed_total. */
export const PURGE_TRIGGERS = ['scheduled', 'user_deleted', 'upload_expired', 'content_deleted', 'content_expired', 'chat_history_expired'] as const;

/** `UserDeleted.v1` → `user_deleted`: an event type as a label value (the version is left out, a purge is a purge). */
export function purgeTriggerLabel(eventType: string): string {
  return eventType.replace(/\.v\d+$/, '').replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase();
}

export const DEAD_LETTER_REASONS = ['invalid_payload', 'handler_failed'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * The event-flow metrics every service exports; the Grafana "events" dashboard reads
 * exactly these names. Labels are event types and consumer names only — never ids.
 */
export class MessagingMetrics {
  readonly published;
  readonly consumed;
  readonly handlerSeconds;
  readonly lagSeconds;
  readonly deadLettered;
  readonly outboxBacklog;
  readonly outboxOldestAge;
  readonly redelivered;
  readonly purgesCompleted;
  readonly consumerPending;
  readonly consumerWaiting;
  readonly rpcRequests;
  readonly rpcSeconds;

  constructor(metrics: ServiceMetrics) {
    this.published = metrics.counter({ name: 'events_published_total', help: 'Events relayed from the outbox to JetStream', labelNames: ['event'] as const });
    this.consumed = metrics.counter({ name: 'events_consumed_total', help: 'Event deliveries by consumer and outcome', labelNames: ['consumer', 'outcome'] as const });
    this.handlerSeconds = metrics.histogram({
      name: 'event_handler_duration_seconds',
      help: 'Time to apply a batch of events, per message',
      labelNames: ['consumer'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    this.lagSeconds = metrics.histogram({
      name: 'event_lag_seconds',
      help: 'Time from the change being committed with its event to the consumer applying it',
      labelNames: ['consumer'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600],
    });
    this.deadLettered = metrics.counter({ name: 'events_dead_lettered_total', help: 'Messages moved to the dead-letter stream', labelNames: ['consumer', 'reason'] as const });
    this.outboxBacklog = metrics.gauge({ name: 'outbox_backlog', help: 'Outbox rows not yet relayed to JetStream' });
    this.outboxOldestAge = metrics.gauge({ name: 'outbox_oldest_age_seconds', help: 'Age of the oldest outbox row not yet relayed to JetStream (0 when the outbox is empty)' });
    this.redelivered = metrics.counter({ name: 'events_redelivered_total', help: 'Deliveries of a message the consumer had been given before (JetStream delivery count above 1)', labelNames: ['consumer'] as const });
    // Counted when the receipt leaves the outbox, so a rolled-back purge is never counted.
    this.purgesCompleted = metrics.counter({
      name: 'purges_completed_total',
      help: 'PurgeCompleted receipts this service published, by the event that asked for the purge (scheduled: the service\'s own sweep)',
      labelNames: ['trigger'] as const,
    });
    this.consumerPending = metrics.gauge({ name: 'consumer_pending_messages', help: 'Messages waiting for a durable consumer', labelNames: ['consumer'] as const });
    this.consumerWaiting = metrics.gauge({
      name: 'consumer_waiting_for_dependency',
      help: '1 while a durable consumer holds its messages because the database or NATS is unreachable',
      labelNames: ['consumer'] as const,
    });
    this.rpcRequests = metrics.counter({ name: 'rpc_requests_total', help: 'Request/reply calls served', labelNames: ['route', 'outcome'] as const });
    this.rpcSeconds = metrics.histogram({
      name: 'rpc_request_duration_seconds',
      help: 'Time to serve a request/reply call',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
  }

  /**
   * Gives a durable consumer's counters and gauges their series at 0 before its first
   * message, so that rates and alerts (`increase(events_dead_lettered_total[…]) > 0`) see
   * the first event instead of a series appearing at 1.
   */
  initConsumer(consumer: string): void {
    for (const outcome of CONSUME_OUTCOMES) this.consumed.inc({ consumer, outcome }, 0);
    for (const reason of DEAD_LETTER_REASONS) this.deadLettered.inc({ consumer, reason }, 0);
    this.redelivered.inc({ consumer }, 0);
    this.consumerWaiting.set({ consumer }, 0);
  }

  /** The relay's labelled series at 0 (a service with an outbox may publish purge receipts). */
  initRelay(): void {
    for (const trigger of PURGE_TRIGGERS) this.purgesCompleted.inc({ trigger }, 0);
  }
}

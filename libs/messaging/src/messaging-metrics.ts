import type { ServiceMetrics } from '@homiwork/observability';

export type ConsumeOutcome = 'processed' | 'duplicate' | 'retried' | 'dead_lettered' | 'invalid' | 'held';

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
}

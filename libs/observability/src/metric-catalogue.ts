import { DATA_OWNING_SERVICES, EVENT_CATALOGUE, GenerationRpc, RetentionRpc, type ServiceName } from '@homiwork/contracts';
import { HTTP_METHOD_LABELS, isSafeLabelValue } from './metrics.js';

/**
 * The one list of every application metric (R9.1): what the services register, what the
 * dashboards in deploy/grafana and the alert rules in deploy/prometheus may query, and what
 * docs/operations.md explains. A metric registered in code and missing here, or a label
 * value outside its rule, fails metric-catalogue.spec.ts.
 *
 * Naming: `<subsystem>_<what>[_<unit>]` in snake case. The subsystem is a platform part
 * every service shares (`http_`, `rpc_`, `events_`/`event_`, `outbox_`, `consumer_`,
 * `purge_`/`purges_`, `process_`) or the owning service (`media_`, `generation_`,
 * `billing_`, `retention_`, `gateway_`). Counters end in `_total`, durations are
 * `_seconds` histograms, gauges carry their unit (`_messages`, `_items`, `_seconds`) or
 * none for a plain count. Every series also carries `service` (ServiceMetrics' default
 * label). Label values come from bounded, known sets — route templates, event types,
 * consumer names, kinds, outcomes, reasons — never an id, email, username, address or
 * prompt; labelled counters and gauges are set to 0 for their known values at start-up.
 */

/** The allowed values of a label: a closed list, or a pattern for a vocabulary that lives elsewhere (route templates, durable names). */
export type LabelRule = readonly string[] | RegExp;

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** Every label but `service` (and a histogram's `le`), with its rule. */
  readonly labels: Readonly<Record<string, LabelRule>>;
  /** `platform`: registered by the shared libraries in every service (or every one with that part); otherwise the one service that registers it. */
  readonly owner: 'platform' | ServiceName;
}

const SNAKE_WORD = /^[a-z][a-z0-9_]{0,47}$/;
/** A route template as Fastify reports it (`/v1/uploads/:id`), or `unmatched`: never a raw path. */
const ROUTE_TEMPLATE = /^(unmatched|\/[A-Za-z0-9_\-/:.*]*)$/;
/** A request/reply method name (`auth.login`, `system.ready`). */
const RPC_METHOD = /^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9-]+)+$/;
/** A durable consumer name, `<service>--<event subject>` (contracts' defineConsumer). */
const DURABLE_NAME = /^[a-z]+--[a-z0-9-]+$/;
const EVENT_TYPES = EVENT_CATALOGUE.map((event) => event.type);
const snakeCase = (name: string): string => name.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase();
/** `scheduled` (a service's own sweep) or the event that asked for the purge in snake case, unversioned. */
const PURGE_TRIGGER_VALUES = ['scheduled', ...new Set(EVENT_CATALOGUE.map((event) => snakeCase(event.name)))];
const UPLOAD_KINDS = ['image', 'audio', 'video', 'text'];
const ADAPTERS = ['local', 'http'];
const JOB_OUTCOMES = [
  'succeeded',
  'reservation_failed',
  'identifiers_unavailable',
  'upload_not_found',
  'upload_unavailable',
  'input_too_large',
  'anonymization_failed',
  'contractor_unavailable',
  'contractor_timeout',
  'contractor_rejected',
  'invalid_result',
  'content_rejected',
  'storage_failed',
  'attempts_exhausted',
  'processing_restricted',
  'internal_error',
];

export const METRIC_CATALOGUE: readonly MetricDefinition[] = [
  // ---------------------------------------------------------------- platform: traffic
  { name: 'http_requests_total', type: 'counter', owner: 'platform', help: 'HTTP requests by method, route template and status', labels: { method: HTTP_METHOD_LABELS, route: ROUTE_TEMPLATE, status: /^[1-5]\d\d$/ } },
  { name: 'http_request_duration_seconds', type: 'histogram', owner: 'platform', help: 'HTTP request duration by method and route template', labels: { method: HTTP_METHOD_LABELS, route: ROUTE_TEMPLATE } },
  { name: 'rpc_requests_total', type: 'counter', owner: 'platform', help: 'Request/reply calls served, by method and outcome', labels: { route: RPC_METHOD, outcome: ['ok', 'rejected', 'error'] } },
  { name: 'rpc_request_duration_seconds', type: 'histogram', owner: 'platform', help: 'Time to serve a request/reply call', labels: { route: RPC_METHOD } },
  { name: 'process_uncaught_failures_total', type: 'counter', owner: 'platform', help: 'Failures no code caught (a rejection is survived, an exception restarts the process)', labels: { kind: ['unhandled_rejection', 'uncaught_exception'] } },

  // ---------------------------------------------------------------- platform: event backbone
  { name: 'events_published_total', type: 'counter', owner: 'platform', help: 'Events relayed from the outbox to JetStream, by event type', labels: { event: EVENT_TYPES } },
  { name: 'events_consumed_total', type: 'counter', owner: 'platform', help: 'Deliveries by durable consumer and outcome', labels: { consumer: DURABLE_NAME, outcome: ['processed', 'duplicate', 'retried', 'dead_lettered', 'invalid', 'held'] } },
  { name: 'events_redelivered_total', type: 'counter', owner: 'platform', help: 'Deliveries of a message the consumer had been given before (delivery count above 1)', labels: { consumer: DURABLE_NAME } },
  { name: 'events_dead_lettered_total', type: 'counter', owner: 'platform', help: 'Messages moved to the dead-letter stream, by consumer and reason', labels: { consumer: DURABLE_NAME, reason: ['invalid_payload', 'handler_failed'] } },
  { name: 'event_handler_duration_seconds', type: 'histogram', owner: 'platform', help: 'Time to apply an event, per message of a batch', labels: { consumer: DURABLE_NAME } },
  { name: 'event_lag_seconds', type: 'histogram', owner: 'platform', help: 'From the change being committed with its event to a consumer applying it', labels: { consumer: DURABLE_NAME } },
  { name: 'consumer_pending_messages', type: 'gauge', owner: 'platform', help: 'Messages a durable consumer has not settled (undelivered plus unacknowledged)', labels: { consumer: DURABLE_NAME } },
  { name: 'consumer_waiting_for_dependency', type: 'gauge', owner: 'platform', help: '1 while a consumer holds its messages because the database or NATS is unreachable', labels: { consumer: DURABLE_NAME } },
  { name: 'outbox_backlog', type: 'gauge', owner: 'platform', help: 'Outbox rows not yet relayed to JetStream', labels: {} },
  { name: 'outbox_oldest_age_seconds', type: 'gauge', owner: 'platform', help: 'Age of the oldest unsent outbox row (0 when empty)', labels: {} },

  // ---------------------------------------------------------------- platform: purges of data-owning services
  { name: 'purges_completed_total', type: 'counter', owner: 'platform', help: 'PurgeCompleted receipts published, by the event that asked (scheduled: own sweep)', labels: { trigger: PURGE_TRIGGER_VALUES } },
  { name: 'purge_backlog_items', type: 'gauge', owner: 'platform', help: 'Items past their deletion time not yet deleted, by kind', labels: { kind: ['upload', 'content', 'chat_message'] } },

  // ---------------------------------------------------------------- gateway, media
  { name: 'gateway_rate_limit_rejections_total', type: 'counter', owner: 'gateway', help: 'Requests refused with 429, by the route policy whose limit was reached', labels: { limit: ['auth', 'read', 'write', 'generation'] } },
  {
    name: 'media_uploads_total',
    type: 'counter',
    owner: 'media',
    help: 'Uploads by kind, outcome and rejection reason (none unless rejected)',
    labels: { kind: [...UPLOAD_KINDS, 'unknown'], outcome: ['stored', 'rejected', 'failed'], reason: SNAKE_WORD },
  },

  // ---------------------------------------------------------------- generation
  { name: 'generation_jobs_total', type: 'counter', owner: 'generation', help: 'Generation jobs that ended, by kind, adapter and outcome', labels: { kind: GenerationRpc.GenerationKind.options, adapter: ADAPTERS, outcome: JOB_OUTCOMES } },
  { name: 'generation_job_seconds', type: 'histogram', owner: 'generation', help: 'Time of a job run by phase: dispatch (in the contractor) and overhead', labels: { kind: GenerationRpc.GenerationKind.options, adapter: ADAPTERS, phase: ['dispatch', 'overhead'] } },
  { name: 'generation_jobs_in_flight', type: 'gauge', owner: 'generation', help: 'Jobs this instance is running now', labels: {} },
  { name: 'generation_chat_replies_total', type: 'counter', owner: 'generation', help: 'Chat replies asked for, by adapter and outcome', labels: { adapter: ADAPTERS, outcome: SNAKE_WORD } },
  { name: 'generation_chat_reply_seconds', type: 'histogram', owner: 'generation', help: 'Time of a chat reply from request to answer', labels: { adapter: ADAPTERS } },

  // ---------------------------------------------------------------- billing
  { name: 'billing_energy_total', type: 'counter', owner: 'billing', help: 'Energy points moved through the ledger: granted (signup, purchase), spent (reservation), refunded (refund)', labels: { reason: ['signup', 'purchase', 'reservation', 'refund'] } },
  { name: 'billing_reservations_total', type: 'counter', owner: 'billing', help: 'Energy reservations by purpose and outcome', labels: { purpose: SNAKE_WORD, outcome: ['reserved', 'replayed', 'insufficient', 'refused'] } },
  { name: 'billing_webhooks_total', type: 'counter', owner: 'billing', help: 'Payment webhooks by provider (from config) and outcome', labels: { provider: SNAKE_WORD, outcome: ['applied', 'replayed', 'card_data', 'bad_signature', 'invalid', 'unknown_provider'] } },
  {
    name: 'billing_orders_total',
    type: 'counter',
    owner: 'billing',
    help: 'Orders by product kind and outcome',
    labels: { kind: SNAKE_WORD, outcome: ['created', 'answered_again', 'too_many_open', 'in_progress', 'processor_unavailable', 'paid', 'cancelled', 'failed', 'expired'] },
  },
  { name: 'billing_prime_changes_total', type: 'counter', owner: 'billing', help: 'PrimeStatusChanged announcements by active', labels: { active: ['true', 'false'] } },

  // ---------------------------------------------------------------- retention
  { name: 'retention_erasures_open', type: 'gauge', owner: 'retention', help: 'Erasures not completed: on_time, overdue (past the deadline), held (a legal hold stands)', labels: { state: ['on_time', 'overdue', 'held'] } },
  { name: 'retention_erasures_completed_total', type: 'counter', owner: 'retention', help: 'Erasures completed with a signed receipt', labels: {} },
  { name: 'retention_safety_net_purges_total', type: 'counter', owner: 'retention', help: "Purges a service made by its own sweep: each one the policy clock missed or was late for", labels: { service: [...DATA_OWNING_SERVICES], scope: ['user', 'upload', 'content', 'chat_history', 'security_events'] } },
  { name: 'retention_legal_holds_active', type: 'gauge', owner: 'retention', help: 'Legal holds placed and not released', labels: {} },
  { name: 'retention_privacy_requests_open', type: 'gauge', owner: 'retention', help: 'Privacy requests not yet final, by type and whether past their legal due date', labels: { type: RetentionRpc.PrivacyRequestType.options, state: ['on_time', 'overdue'] } },
  { name: 'retention_due_items_fired_total', type: 'counter', owner: 'retention', help: 'Due items whose expiry event the policy clock wrote, by kind', labels: { kind: ['upload', 'content', 'chat_history', 'inactive_warning', 'inactive_erasure'] } },
  { name: 'retention_due_items_overdue', type: 'gauge', owner: 'retention', help: 'Due items due more than one tick ago and not fired (held users excepted)', labels: {} },
  { name: 'retention_export_builds_total', type: 'counter', owner: 'retention', help: 'Export archive build attempts by outcome', labels: { outcome: ['ready', 'retry', 'failed', 'erased', 'superseded'] } },
];

/** Exported by the supervisor of `npm start` on its own /metrics (not a service; in Kubernetes restarts are `changes(process_start_time_seconds[…])`). */
export const SUPERVISOR_METRICS = ['supervisor_service_restarts_total', 'supervisor_service_up'] as const;

/** prom-client 15 collectDefaultMetrics(), without a prefix: CPU, memory, event loop, GC, handles. */
export const PROCESS_DEFAULT_METRICS: readonly string[] = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_eventloop_lag_seconds',
  ...['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((stat) => `nodejs_eventloop_lag_${stat}_seconds`),
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  ...['total', 'used', 'available'].map((stat) => `nodejs_heap_space_size_${stat}_bytes`),
  'nodejs_version_info',
  ...['bucket', 'sum', 'count'].map((suffix) => `nodejs_gc_duration_seconds_${suffix}`),
];

export function catalogued(name: string): MetricDefinition | undefined {
  return METRIC_CATALOGUE.find((metric) => metric.name === name);
}

/** The names a scrape holds for a metric: a histogram's `_bucket`, `_sum` and `_count`, else the name itself. */
export function seriesNames(metric: MetricDefinition): string[] {
  return metric.type === 'histogram' ? ['bucket', 'sum', 'count'].map((suffix) => `${metric.name}_${suffix}`) : [metric.name];
}

/** Every series name a query may use: the catalogue's, prom-client's defaults, the supervisor's and `up`. */
export function queryableMetricNames(): Set<string> {
  return new Set([...METRIC_CATALOGUE.flatMap(seriesNames), ...PROCESS_DEFAULT_METRICS, ...SUPERVISOR_METRICS, 'up']);
}

export function labelAllowed(rule: LabelRule, value: string): boolean {
  return Array.isArray(rule) ? rule.includes(value) : (rule as RegExp).test(value);
}

/**
 * What is wrong with a Prometheus text exposition of a service: a series of a metric not
 * in the catalogue (prom-client's defaults aside), a label the catalogue does not name,
 * a value outside its rule or one that looks like personal data. Empty when all is well.
 */
export function catalogueViolations(exposition: string): string[] {
  const problems: string[] = [];
  const defaults = new Set(PROCESS_DEFAULT_METRICS);
  for (const [, series, labelText = ''] of exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/gm)) {
    const labels = [...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key!, value!] as const);
    for (const [key, value] of labels) if (!isSafeLabelValue(value)) problems.push(`${series}: ${key} looks like personal data`);
    if (defaults.has(series!)) continue;
    const metric = METRIC_CATALOGUE.find((candidate) => seriesNames(candidate).includes(series!));
    if (!metric) {
      problems.push(`${series}: not in the metric catalogue`);
      continue;
    }
    for (const [key, value] of labels) {
      if (key === 'service' || (key === 'le' && metric.type === 'histogram')) continue;
      const rule = metric.labels[key];
      if (!rule) problems.push(`${series}: label ${key} is not in the catalogue`);
      else if (!labelAllowed(rule, value)) problems.push(`${series}: ${key}="${value}" is outside its known values`);
    }
  }
  return [...new Set(problems)];
}

import type { FastifyInstance } from 'fastify';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import { PATTERNS } from './scrub.js';

type Configuration<L extends string> = Omit<CounterConfiguration<L>, 'registers' | 'collect'>;

/**
 * Prometheus metrics of one service (R9.1). Each instance owns its registry rather than
 * using prom-client's global one, so that several services (or tests) in one process do
 * not collide, and every series carries `service` as a default label.
 *
 * Label values must never be personal data nor unbounded (see isSafeLabelValue): a label
 * is stored for every distinct value, scraped and kept for months.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly contentType: string;

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    // Process CPU, memory, event-loop lag, GC, handles: the basics of every dashboard.
    collectDefaultMetrics({ register: this.registry });
    this.contentType = this.registry.contentType;
  }

  /** Returns the metric already registered under this name, so callers need no bookkeeping. */
  counter<L extends string>(cfg: Configuration<L>): Counter<L> {
    return this.existing(cfg.name, Counter) ?? new Counter<L>({ ...cfg, registers: [this.registry] });
  }

  histogram<L extends string>(cfg: Configuration<L> & Pick<HistogramConfiguration<L>, 'buckets'>): Histogram<L> {
    return this.existing(cfg.name, Histogram) ?? new Histogram<L>({ ...cfg, registers: [this.registry] });
  }

  gauge<L extends string>(cfg: Configuration<L> & Pick<GaugeConfiguration<L>, 'collect'>): Gauge<L> {
    return this.existing(cfg.name, Gauge) ?? new Gauge<L>({ ...cfg, registers: [this.registry] });
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  private existing<M>(name: string, kind: abstract new (...args: never[]) => M): M | undefined {
    const metric = this.registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    // Same name, other type: a programming error that would otherwise surface as odd data.
    if (!(metric instanceof kind)) throw new TypeError(`metric ${name} is already registered with another type`);
    return metric;
  }
}

export const HTTP_METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'] as const;
const HTTP_METHODS: ReadonlySet<string> = new Set(HTTP_METHOD_LABELS);

/**
 * Counts and times every HTTP request by method, route template and status. The route is
 * `request.routeOptions.url` ("/v1/users/:id"), never the raw URL: paths carry ids and
 * sometimes emails, which would leak into the metrics and create a series per user.
 * Requests that matched no route (404s, probes) share `route="unmatched"`.
 *
 * Call it on the root instance before registering routes and plugins, so that its hook
 * applies to all of them.
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: ServiceMetrics): void {
  const requests = metrics.counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status'],
  });
  const duration = metrics.histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds by method and route template',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  app.addHook('onResponse', async (request, reply) => {
    // Node accepts some thirty methods (PROPFIND, MKCOL…); the rare ones share one label value.
    const method = HTTP_METHODS.has(request.method) ? request.method : 'other';
    const labels = { method, route: request.routeOptions.url ?? 'unmatched' };
    requests.inc({ ...labels, status: String(reply.statusCode) });
    duration.observe(labels, reply.elapsedTime / 1000);
  });
}

/** False for anything that looks like an email, an IP address or a UUID (a per-entity id). */
export function isSafeLabelValue(value: string): boolean {
  return ![PATTERNS.email, PATTERNS.ipv4, PATTERNS.ipv6, PATTERNS.uuid].some((pattern) => pattern.test(value));
}

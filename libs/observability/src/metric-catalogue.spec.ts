import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogueViolations, METRIC_CATALOGUE, PROCESS_DEFAULT_METRICS, queryableMetricNames, SUPERVISOR_METRICS } from './metric-catalogue.js';
import { registerHttpMetrics, ServiceMetrics } from './metrics.js';
import Fastify from 'fastify';

const ROOT = resolve(import.meta.dirname, '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'test' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

interface Registration {
  name: string;
  type: string;
  file: string;
}

/**
 * Every metric the code registers through ServiceMetrics (`metrics.counter({ name: … })`),
 * found by reading the sources of libs/*\/src and services/*\/src: a new metric anywhere is
 * seen without having to start its service.
 */
function registrations(): Registration[] {
  const found: Registration[] = [];
  for (const top of ['libs', 'services']) {
    for (const project of readdirSync(join(ROOT, top))) {
      for (const file of sourceFiles(join(ROOT, top, project, 'src'))) {
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(/\.(counter|gauge|histogram)(?:<[^>]*>)?\(\{\s*name: '([a-zA-Z0-9_:]+)'/g)) {
          found.push({ type: match[1]!, name: match[2]!, file: relative(ROOT, file) });
        }
      }
    }
  }
  return found;
}

describe('the metric catalogue', () => {
  const registered = registrations();

  it('finds the registrations it checks (the scan itself works)', () => {
    // Some of every kind and every part, so a change of style that hides them fails here.
    for (const name of ['http_requests_total', 'events_redelivered_total', 'outbox_oldest_age_seconds', 'purge_backlog_items', 'media_uploads_total', 'gateway_rate_limit_rejections_total', 'retention_legal_holds_active', 'generation_job_seconds']) {
      expect(registered.map((r) => r.name), name).toContain(name);
    }
  });

  it('holds every metric a service registers, with the type it is registered as', () => {
    const missing = registered.filter((r) => METRIC_CATALOGUE.find((metric) => metric.name === r.name)?.type !== r.type);
    expect(missing.map((r) => `${r.file}: ${r.type} ${r.name}`)).toEqual([]);
  });

  it('names no metric nobody registers', () => {
    const names = new Set(registered.map((r) => r.name));
    expect(METRIC_CATALOGUE.filter((metric) => !names.has(metric.name)).map((metric) => metric.name)).toEqual([]);
  });

  it('lists the supervisor’s own metrics as it writes them', () => {
    const supervisor = readFileSync(join(ROOT, 'libs/system-runner/src/supervisor.ts'), 'utf8');
    const written = [...supervisor.matchAll(/# TYPE (\w+) /g)].map((match) => match[1]);
    expect(written.sort()).toEqual([...SUPERVISOR_METRICS].sort());
  });

  it('follows the naming scheme: snake case, counters end in _total, histograms in _seconds, one definition per name', () => {
    for (const metric of METRIC_CATALOGUE) {
      expect(metric.name).toMatch(/^[a-z]+(_[a-z0-9]+)+$/);
      if (metric.type === 'counter') expect(metric.name, metric.name).toMatch(/_total$/);
      else expect(metric.name, metric.name).not.toMatch(/_total$/);
      if (metric.type === 'histogram') expect(metric.name, metric.name).toMatch(/_seconds$/);
      // `service` is ServiceMetrics' default label; only the safety-net count overrides it on purpose (the service that purged).
      if (metric.name !== 'retention_safety_net_purges_total') expect(Object.keys(metric.labels), metric.name).not.toContain('service');
    }
    expect(new Set(METRIC_CATALOGUE.map((metric) => metric.name)).size).toBe(METRIC_CATALOGUE.length);
  });

  it('accepts what a service exports and refuses unknown metrics, unknown labels, values outside their set and personal data', async () => {
    const metrics = new ServiceMetrics('catalogue-test');
    const app = Fastify();
    registerHttpMetrics(app, metrics);
    app.get('/v1/uploads/:id', () => ({}));
    await app.inject({ method: 'GET', url: '/v1/uploads/8f14e45f-ceea-467f-a0e6-1a2b3c4d5e6f' });
    const text = await metrics.metricsText();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(PROCESS_DEFAULT_METRICS).toContain(name);
      expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
    }
    expect(catalogueViolations(text)).toEqual([]);

    metrics.counter({ name: 'uploads_per_user_total', help: 'x', labelNames: ['user'] }).inc({ user: 'alice@example.com' });
    metrics.counter({ name: 'events_dead_lettered_total', help: 'x', labelNames: ['consumer', 'reason', 'user'] }).inc({ consumer: 'media--user-deleted', reason: 'bored', user: 'x' });
    expect(catalogueViolations(await metrics.metricsText()).sort()).toEqual([
      'events_dead_lettered_total: label user is not in the catalogue',
      'events_dead_lettered_total: reason="bored" is outside its known values',
      'uploads_per_user_total: not in the metric catalogue',
      'uploads_per_user_total: user looks like personal data',
    ]);
    await app.close();
  });

  it('lets queries use catalogue series, prom-client defaults, the supervisor’s and up', () => {
    const names = queryableMetricNames();
    for (const name of ['http_request_duration_seconds_bucket', 'outbox_oldest_age_seconds', 'process_resident_memory_bytes', 'supervisor_service_restarts_total', 'up']) expect(names.has(name), name).toBe(true);
    expect(names.has('http_request_duration_seconds')).toBe(false);
  });
});

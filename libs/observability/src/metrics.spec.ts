import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { isSafeLabelValue, registerHttpMetrics, ServiceMetrics } from './metrics.js';

const UUID = '550e8400-e29b-41d4-a716-446655440000';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The series of a Prometheus text exposition (comments skipped). */
function samples(text: string): Sample[] {
  return [...text.matchAll(/^(\w+)(?:\{(.*)\})? (\S+)$/gm)].map(([, name, labels = '', value]) => ({
    name: name!,
    labels: Object.fromEntries([...labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, val]) => [key!, val!])),
    value: Number(value),
  }));
}

function valueOf(text: string, name: string, labels: Record<string, string>): number | undefined {
  return samples(text).find((sample) => sample.name === name && Object.entries(labels).every(([key, val]) => sample.labels[key] === val))?.value;
}

describe('ServiceMetrics', () => {
  it('labels every series with the service and collects process metrics', async () => {
    const metrics = new ServiceMetrics('metrics-test');
    metrics.counter({ name: 'jobs_total', help: 'jobs' }).inc();
    const text = await metrics.metricsText();
    expect(text).toContain('jobs_total{service="metrics-test"} 1');
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text).toMatch(new RegExp(`^${name}\\{[^}]*service="metrics-test"`, 'm'));
    }
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it('keeps services apart and returns an already registered metric', async () => {
    const a = new ServiceMetrics('a');
    const b = new ServiceMetrics('b');
    const first = a.histogram({ name: 'work_seconds', help: 'work', labelNames: ['kind'] });
    expect(a.histogram({ name: 'work_seconds', help: 'work', labelNames: ['kind'] })).toBe(first);
    expect(b.histogram({ name: 'work_seconds', help: 'work', labelNames: ['kind'] })).not.toBe(first);
    expect(() => a.gauge({ name: 'work_seconds', help: 'work' })).toThrow(TypeError);
    first.observe({ kind: 'x' }, 0.2);
    expect(await b.metricsText()).not.toContain('work_seconds_count{kind="x"');
  });
});

describe('registerHttpMetrics', () => {
  it('labels requests by route template, never by the raw path', async () => {
    const metrics = new ServiceMetrics('http-test');
    const app = Fastify();
    registerHttpMetrics(app, metrics);
    app.get('/v1/users/:id', () => ({ ok: true }));
    app.post('/v1/fail', (_request, reply) => reply.code(500).send({ error: 'boom' }));
    await app.inject({ method: 'GET', url: '/v1/users/alice@example.com' });
    await app.inject({ method: 'GET', url: `/v1/users/${UUID}?email=bob@example.com` });
    await app.inject({ method: 'POST', url: '/v1/fail' });
    await app.inject({ method: 'GET', url: '/v1/people/carol@example.com/10.0.0.1' });
    await app.inject({ method: 'PROPFIND', url: '/v1/users/x' });
    await app.close();

    const text = await metrics.metricsText();
    const service = 'http-test';
    expect(valueOf(text, 'http_requests_total', { service, method: 'GET', route: '/v1/users/:id', status: '200' })).toBe(2);
    expect(valueOf(text, 'http_requests_total', { service, method: 'POST', route: '/v1/fail', status: '500' })).toBe(1);
    expect(valueOf(text, 'http_requests_total', { service, method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    // A rare method shares one label value (Node accepts some thirty).
    expect(text).not.toContain('PROPFIND');
    expect(valueOf(text, 'http_requests_total', { service, method: 'other', route: 'unmatched', status: '404' })).toBe(1);
    expect(valueOf(text, 'http_request_duration_seconds_count', { service, method: 'GET', route: '/v1/users/:id' })).toBe(2);
    expect(text).not.toMatch(/alice|bob|carol|10\.0\.0\.1|550e8400/);
    const values = samples(text).flatMap((sample) => Object.values(sample.labels));
    expect(values).toContain('/v1/users/:id');
    expect(values.filter((value) => !isSafeLabelValue(value))).toEqual([]);
  });
});

describe('isSafeLabelValue', () => {
  it.each(['/v1/users/:id', 'unmatched', 'GET', '200', 'image.generate', 'v1.2.3'])('accepts %j', (value) => {
    expect(isSafeLabelValue(value)).toBe(true);
  });

  it.each(['alice@example.com', '/v1/users/alice%40example.com', '192.168.0.1', '2001:db8::1', UUID, `/v1/jobs/${UUID}`])('rejects %j', (value) => {
    expect(isSafeLabelValue(value)).toBe(false);
  });
});

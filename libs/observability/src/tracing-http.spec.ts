import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { initTracing, injectTraceHeaders, type TracingHandle } from './tracing.js';
import { registerHttpTracing } from './tracing-http.js';

let handle: TracingHandle | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await handle?.shutdown();
  app = handle = undefined;
});

async function tracedApp(exporter: InMemorySpanExporter): Promise<FastifyInstance> {
  handle = initTracing({ service: 'http-test', exporter });
  app = Fastify({ logger: false });
  registerHttpTracing(app);
  // What a handler hands on to the next hop (RpcClient injects exactly this).
  app.post('/v1/things/:id', async () => {
    await sleep(1);
    return injectTraceHeaders({});
  });
  app.get('/v1/fail', () => Promise.reject(new Error('boom')));
  await app.ready();
  return app;
}

describe('registerHttpTracing', () => {
  it('makes one server span per request the parent of what the handler sends on, named by the route template', async () => {
    const exporter = new InMemorySpanExporter();
    const server = await tracedApp(exporter);
    const id = 'c0ffee00-0000-4000-8000-000000000001';
    const answer = await server.inject({ method: 'POST', url: `/v1/things/${id}?email=ana@example.com`, payload: { name: 'Ana' }, headers: { 'user-agent': 'Probe/1', 'x-forwarded-for': '203.0.113.9' } });
    expect(answer.statusCode).toBe(200);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('POST /v1/things/:id');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.attributes).toEqual({ 'http.request.method': 'POST', 'http.route': '/v1/things/:id', 'http.response.status_code': 200 });
    expect(answer.json<{ traceparent: string }>().traceparent).toBe(`00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`);
    expect(JSON.stringify([span!.name, span!.attributes, span!.events])).not.toMatch(new RegExp(`${id}|ana|Probe|203\\.0\\.113`, 'i'));
  });

  it('starts a new trace whatever trace headers the client sends', async () => {
    const exporter = new InMemorySpanExporter();
    const server = await tracedApp(exporter);
    const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await server.inject({ method: 'POST', url: '/v1/things/x', payload: {}, headers: { traceparent: `00-${clientTraceId}-00f067aa0ba902b7-01`, baggage: 'user=ana' } });
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).not.toBe(clientTraceId);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(answer.json<Record<string, string>>()).not.toHaveProperty('baggage');
  });

  it('marks a 5xx as an error and a 404 without a route by its method alone', async () => {
    const exporter = new InMemorySpanExporter();
    const server = await tracedApp(exporter);
    expect((await server.inject({ method: 'GET', url: '/v1/fail' })).statusCode).toBe(500);
    expect((await server.inject({ method: 'GET', url: '/nowhere/ana@example.com' })).statusCode).toBe(404);
    const [failed, unmatched] = exporter.getFinishedSpans();
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(unmatched?.name).toBe('GET');
    expect(unmatched?.attributes).toEqual({ 'http.request.method': 'GET', 'http.response.status_code': 404 });
  });
});

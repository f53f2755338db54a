import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { extractTraceContext, initTracing, injectTraceHeaders, withSpan, type TracingHandle } from './tracing.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

let handle: TracingHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

describe('tracing', () => {
  it('carries a trace across a hop through headers', async () => {
    const exporter = new InMemorySpanExporter();
    handle = initTracing({ service: 'tracing-test', exporter });

    const headers = await withSpan('publish', { kind: SpanKind.PRODUCER }, async () => {
      await sleep(1); // the active span must survive an await (AsyncLocalStorage)
      return injectTraceHeaders({});
    });
    expect(headers.traceparent).toMatch(TRACEPARENT);
    await withSpan('consume', { kind: SpanKind.CONSUMER, parent: extractTraceContext(headers) }, () => Promise.resolve(undefined));

    const [publish, consume] = exporter.getFinishedSpans();
    expect(publish?.name).toBe('publish');
    expect(consume?.name).toBe('consume');
    expect(consume!.spanContext().traceId).toBe(publish!.spanContext().traceId);
    expect(consume!.parentSpanContext?.spanId).toBe(publish!.spanContext().spanId);
    expect(headers.traceparent).toBe(`00-${publish!.spanContext().traceId}-${publish!.spanContext().spanId}-01`);
    expect(publish!.resource.attributes['service.name']).toBe('tracing-test');
  });

  it('records a failure by its name and code only, never its message or stack, and rethrows the original error', async () => {
    const exporter = new InMemorySpanExporter();
    handle = initTracing({ service: 'tracing-test', exporter });
    // A name no pattern recognises as personal data, which a message would still carry.
    const error = Object.assign(new Error('no account for alice@example.com (username fox_rider) from 198.51.100.4'), { code: 'account_not_found' });

    await expect(
      withSpan('login', { attributes: { 'user.email': 'alice@example.com', 'http.route': '/v1/login' } }, () => Promise.reject(error)),
    ).rejects.toBe(error);

    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'account_not_found' });
    const exception = span!.events.find((event) => event.name === 'exception');
    expect(exception?.attributes).toEqual({ 'exception.type': 'Error', 'exception.message': 'account_not_found' });
    expect(span!.attributes).toEqual({ 'user.email': '[redacted]', 'http.route': '/v1/login' });
    expect(JSON.stringify([span!.attributes, span!.events, span!.status])).not.toMatch(/alice|fox_rider|198\.51\.100\.4|no account/);
    expect(error.message).toContain('alice@example.com');
  });

  it('can be initialised again; the last call wins', async () => {
    const first = new InMemorySpanExporter();
    const second = new InMemorySpanExporter();
    const firstHandle = initTracing({ service: 'one', exporter: first });
    expect(() => (handle = initTracing({ service: 'two', exporter: second }))).not.toThrow();
    await withSpan('after', {}, () => Promise.resolve(undefined));
    expect(first.getFinishedSpans()).toEqual([]);
    expect(second.getFinishedSpans().map((span) => span.name)).toEqual(['after']);
    await firstHandle.shutdown(); // shutting down a replaced setup leaves the current one alone
    await withSpan('still', {}, () => Promise.resolve(undefined));
    expect(second.getFinishedSpans().map((span) => span.name)).toEqual(['after', 'still']);
  });

  it('propagates context without any exporter', async () => {
    handle = initTracing({ service: 'silent' });
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const outgoing = await withSpan('handle', { parent: extractTraceContext({ traceparent: incoming }) }, (span) => {
      expect(trace.getActiveSpan()).toBe(span);
      return Promise.resolve(injectTraceHeaders({}));
    });
    const [, traceId, spanId] = TRACEPARENT.exec(outgoing.traceparent ?? '') ?? [];
    expect(traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(spanId).not.toBe('00f067aa0ba902b7'); // a new span of our own, child of the caller's
  });

  it('starts a new trace when the headers carry none', () => {
    handle = initTracing({ service: 'silent' });
    expect(trace.getSpanContext(extractTraceContext({}))).toBeUndefined();
  });

  it('loads the tracing SDK only when spans go somewhere (an endpoint or an exporter)', async () => {
    // A fresh process, as a service starts: this test file has loaded the SDK itself.
    const probe = async (options: string) => {
      const script = `
        import { createRequire } from 'node:module';
        const { initTracing, withSpan, injectTraceHeaders } = await import(${JSON.stringify(fileURLToPath(new URL('./tracing.ts', import.meta.url)))});
        initTracing(${options});
        const headers = await withSpan('probe', {}, async () => injectTraceHeaders({}));
        const loaded = Object.keys(createRequire(import.meta.url).cache);
        const has = (name) => loaded.some((path) => path.includes('/node_modules/' + name + '/'));
        process.stdout.write(JSON.stringify({ traceparent: headers.traceparent, sdk: has('@opentelemetry/sdk-trace-base'), otlp: has('@opentelemetry/exporter-trace-otlp-http') }));
        process.exit(0);
      `;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', '@swc-node/register/esm-register', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../../../', import.meta.url)),
        env: { PATH: process.env.PATH },
      });
      return JSON.parse(stdout) as { traceparent?: string; sdk: boolean; otlp: boolean };
    };
    const silent = await probe(`{ service: 'silent' }`);
    expect(silent).toMatchObject({ sdk: false, otlp: false });
    expect(silent.traceparent).toMatch(TRACEPARENT); // a trace is still born here and travels on
    expect(await probe(`{ service: 'exporting', otlpEndpoint: 'http://127.0.0.1:4318' }`)).toMatchObject({ sdk: true, otlp: true, traceparent: expect.stringMatching(TRACEPARENT) });
  }, 30_000);
});

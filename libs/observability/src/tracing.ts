import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanKind,
  type SpanOptions as ApiSpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { scrubPersonalData } from './scrub.js';

/*
 * OpenTelemetry traces across HTTP and NATS hops (R9.2).
 *
 * Span names and attributes must never carry personal data: no emails, usernames, IP
 * addresses, tokens, prompts or file contents, only route templates, opaque ids, sizes,
 * counts and outcomes. Spans leave the process for a collector, outside the purge that
 * erases a user's data. withSpan scrubs what it records itself (its attributes and error
 * messages) as a safety net, not as a licence.
 */

export interface TracingOptions {
  service: string;
  /** OTLP/HTTP collector base URL, e.g. "http://otel-collector:4318" ("/v1/traces" is added). */
  otlpEndpoint?: string;
  /** Exporter to use instead of OTLP (tests pass an InMemorySpanExporter); exported at once. */
  exporter?: SpanExporter;
}

export interface TracingHandle {
  /** Flushes and stops this provider; the globals are released if it is still the active one. */
  shutdown(): Promise<void>;
}

let current: { provider: TracerProvider & { shutdown(): Promise<void> }; service: string } | undefined;

/*
 * The tracing SDK (span recording, batching, the OTLP exporter with its transformer, which
 * pulls the metrics SDK in) is about 190 modules: 2–4 MB resident in a service, ~20 MB in a
 * bare process, and start-up time. It does nothing unless spans go somewhere, so it is
 * loaded only when they do (an endpoint or an exporter is configured), through require() so
 * initTracing stays synchronous: the OpenTelemetry packages are CommonJS in Node, so
 * require() and import() give the same module instances.
 */
const requireSdk = createRequire(import.meta.url);

/**
 * Registers the global tracer provider, the W3C trace-context propagator and an
 * AsyncLocalStorage context manager. With neither an endpoint nor an exporter, spans are
 * still created (so a trace id is born at the edge and travels on) but go nowhere: they are
 * ids only (PropagatingTracer), and the SDK is not loaded.
 *
 * Calling it again does not throw: the last call wins. The OpenTelemetry API refuses to
 * replace a registered global (it logs and keeps the old one), so the previous globals are
 * disabled first and the previous provider is shut down. This also holds when an earlier
 * call came from another copy of this module (test isolation reloads modules, not globals).
 */
export function initTracing(options: TracingOptions): TracingHandle {
  // A failed flush of the replaced provider must not become an unhandled rejection.
  current?.provider.shutdown().catch(() => undefined);
  releaseGlobals();

  const provider = options.exporter || options.otlpEndpoint ? recordingProvider(options) : new PropagatingTracerProvider();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const registration = { provider, service: options.service };
  current = registration;

  return {
    async shutdown() {
      await provider.shutdown();
      if (current === registration) {
        releaseGlobals();
        current = undefined;
      }
    },
  };
}

/** The SDK's provider: spans are recorded and handed to the exporter and/or the OTLP endpoint. */
function recordingProvider(options: TracingOptions): TracerProvider & { shutdown(): Promise<void> } {
  const sdk = requireSdk('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = requireSdk('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { ATTR_SERVICE_NAME } = requireSdk('@opentelemetry/semantic-conventions') as typeof import('@opentelemetry/semantic-conventions');
  const spanProcessors: SpanProcessor[] = [];
  if (options.exporter) spanProcessors.push(new sdk.SimpleSpanProcessor(options.exporter));
  if (options.otlpEndpoint) {
    const { OTLPTraceExporter } = requireSdk('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    const url = `${options.otlpEndpoint.replace(/\/+$/, '').replace(/\/v1\/traces$/, '')}/v1/traces`;
    spanProcessors.push(new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  return new sdk.BasicTracerProvider({ resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.service }), spanProcessors });
}

/**
 * Spans that are never recorded, only identified: a child gets the trace id and the
 * sampling flag of its parent and a span id of its own; a span without a parent starts a
 * trace (sampled, as the SDK's default sampler would), so a service that does export
 * further down the path still sees one trace.
 */
class PropagatingTracer implements Tracer {
  startSpan(_name: string, options: ApiSpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(ctx);
    const inherited = parent && isSpanContextValid(parent) ? parent : undefined;
    return trace.wrapSpanContext({
      traceId: inherited?.traceId ?? randomId(16),
      spanId: randomId(8),
      traceFlags: inherited?.traceFlags ?? TraceFlags.SAMPLED,
      ...(inherited?.traceState ? { traceState: inherited.traceState } : {}),
    });
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: ApiSpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: ApiSpanOptions, ctx: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: [F] | [ApiSpanOptions, F] | [ApiSpanOptions, Context, F]): ReturnType<F> {
    const fn = args.at(-1) as F;
    const options = args.length > 1 ? (args[0] as ApiSpanOptions) : {};
    const parent = args.length > 2 ? (args[1] as Context) : context.active();
    const span = this.startSpan(name, options, parent);
    return context.with<[Span], (span: Span) => ReturnType<F>>(trace.setSpan(parent, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

class PropagatingTracerProvider implements TracerProvider {
  private readonly tracer = new PropagatingTracer();

  getTracer(): Tracer {
    return this.tracer;
  }

  /** Nothing is buffered. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A random, never all-zero id of `bytes` bytes in lower-case hex (W3C trace-context ids). */
function randomId(bytes: number): string {
  const id = randomBytes(bytes);
  if (id.every((byte) => byte === 0)) id[bytes - 1] = 1;
  return id.toString('hex');
}

// context.disable() also disables the registered context manager.
function releaseGlobals(): void {
  trace.disable();
  context.disable();
  propagation.disable();
}
/** Writes `traceparent` (and `tracestate`) of the active or given context into the carrier. */
export function injectTraceHeaders(carrier: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, carrier);
  return carrier;
}

/**
 * The context described by incoming headers (lower-case names, as HTTP and our NATS
 * headers use). It starts from the root context, not the active one: an incoming hop's
 * parent is what the sender says, or nothing.
 */
export function extractTraceContext(carrier: Record<string, string | undefined>): Context {
  return propagation.extract(ROOT_CONTEXT, carrier);
}

function getTracer(name?: string): Tracer {
  return trace.getTracer(name ?? current?.service ?? '@homiwork/observability');
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context (e.g. from extractTraceContext); the active context when absent. */
  parent?: Context;
}

/** A machine-readable code the error carries (`validation_failed`, `ECONNREFUSED`), if it is one. */
function errorCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(code) ? code : undefined;
}

/**
 * Runs `fn` inside an active span and ends it. On a throw the span gets the exception's
 * name and code (never its message or stack) and an ERROR status, and the error is
 * rethrown unchanged.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const spanOptions = { kind: options.kind, attributes: scrubPersonalData(options.attributes) };
  return getTracer().startActiveSpan(name, spanOptions, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      // The error's kind only: messages and stacks quote the input that failed (a username,
      // a prompt fragment) in ways no pattern recognises, and spans leave for a collector.
      const name = error instanceof Error ? error.name : 'Error';
      const message = errorCode(error) ?? name;
      span.recordException({ name, message });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  });
}

import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanKind,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
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

let current: { provider: BasicTracerProvider; service: string } | undefined;

/**
 * Registers the global tracer provider, the W3C trace-context propagator and an
 * AsyncLocalStorage context manager. With neither an endpoint nor an exporter, spans are
 * still created (so a trace id is born at the edge and travels on) but go nowhere.
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

  const spanProcessors: SpanProcessor[] = [];
  if (options.exporter) spanProcessors.push(new SimpleSpanProcessor(options.exporter));
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/+$/, '').replace(/\/v1\/traces$/, '')}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.service }),
    spanProcessors,
  });
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

export function getTracer(name?: string): Tracer {
  return trace.getTracer(name ?? current?.service ?? '@homiwork/observability');
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context (e.g. from extractTraceContext); the active context when absent. */
  parent?: Context;
}

/**
 * Runs `fn` inside an active span and ends it. On a throw the span gets the exception
 * (message and stack scrubbed: error messages often quote the input that failed) and an
 * ERROR status, and the error is rethrown unchanged.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const spanOptions = { kind: options.kind, attributes: scrubPersonalData(options.attributes) };
  return getTracer().startActiveSpan(name, spanOptions, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      const message = scrubPersonalData(error instanceof Error ? error.message : String(error));
      span.recordException({
        name: error instanceof Error ? error.name : 'Error',
        message,
        stack: error instanceof Error ? scrubPersonalData(error.stack) : undefined,
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  });
}

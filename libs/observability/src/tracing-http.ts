import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    traceSpan?: Span;
  }
}

/**
 * One SERVER span per request of a public HTTP listener; every RPC and every event the
 * request causes is a descendant of it (RpcClient and the outbox write its context).
 *
 * The edge starts every trace: `traceparent`, `tracestate` and `baggage` from the Internet
 * are ignored. A client-chosen trace id would be an identifier the client knows and could
 * quote to tie our records (or a contractor's, were it ever passed on) to the person, and a
 * client could force sampling. The trace id is born here, random, for each request.
 *
 * The span says what was asked, never who asked: the method, the route template (not the
 * path, which holds ids), the status code. No URL, query, address, user agent or header.
 */
export function registerHttpTracing(app: FastifyInstance): void {
  app.decorateRequest('traceSpan', undefined);
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    request.traceSpan = trace.getTracer('@homiwork/observability').startSpan(
      route ? `${request.method} ${route}` : request.method,
      { kind: SpanKind.SERVER, root: true, attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}) } },
      ROOT_CONTEXT,
    );
    done();
  });
  // The handler runs synchronously from the last preHandler's callback, after the body was
  // read, so making the span active here covers guards, pipes and the controller, and the
  // AsyncLocalStorage context follows every await from there.
  app.addHook('preHandler', (request, _reply, done) => {
    const span = request.traceSpan;
    if (!span) return done();
    context.with(trace.setSpan(ROOT_CONTEXT, span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    endSpan(request.traceSpan, reply.statusCode);
    done();
  });
  // A client that goes away before the answer: onResponse never comes.
  app.addHook('onRequestAbort', (request, done) => {
    endSpan(request.traceSpan, undefined);
    done();
  });
}

function endSpan(span: Span | undefined, status: number | undefined): void {
  if (!span?.isRecording()) return;
  if (status === undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'client aborted' });
  } else {
    span.setAttribute('http.response.status_code', status);
    // Per the HTTP semantic conventions a server span fails on 5xx only; a 4xx is the client's.
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

import { SpanKind } from '@opentelemetry/api';
import { z } from 'zod';
import { errors as natsErrors, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  CallerContext,
  RpcErrorBody,
  rpcSubject,
  type RpcRequest,
  type RpcResponse,
  type RpcRoute,
  type ServiceName,
} from '@homiwork/contracts';
import { extractTraceContext, injectTraceHeaders, scrubPersonalData, withSpan, type Logger } from '@homiwork/observability';
import { isInfrastructureFailure } from './failure-kind.js';
import type { MessagingMetrics } from './messaging-metrics.js';

const CONTEXT_HEADER = 'Hw-Caller';

/** An expected failure a handler reports to its caller (not found, conflict, validation…). */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  toBody(): RpcErrorBody {
    return { status: this.status, code: this.code, message: this.message, ...(this.retryAfterSeconds ? { retryAfterSeconds: this.retryAfterSeconds } : {}) };
  }
}

type Reply = { ok: true; body: unknown } | { ok: false; error: RpcErrorBody };

export type RpcHandler<R extends RpcRoute> = (request: RpcRequest<R>, caller: CallerContext) => Promise<RpcResponse<R>>;

/** The caller context is a few ids (well under 1 KB); anything much larger is not from the gateway. */
const MAX_CALLER_HEADER_BYTES = 2_048;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Describes the first schema issue by field and rule, never by value: the answer goes back
 * to whoever sent the request, and nothing of the input is echoed (an unknown key's name is
 * input too, so it is not named).
 */
function describeIssues(error: { issues: ReadonlyArray<{ path: readonly PropertyKey[]; code: string; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return 'body: invalid';
  const field = issue.path.map((segment) => (typeof segment === 'number' || /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(String(segment)) ? String(segment) : '?')).join('.') || 'body';
  return issue.code === 'unrecognized_keys' ? `${field}: unknown field` : `${field}: ${issue.message}`.slice(0, 300);
}

function rejected(status: number, code: string, message: string): Reply {
  return { ok: false, error: { status, code, message } };
}

/** Reads the caller context header; a missing, oversized, mis-encoded or malformed one is the caller's fault (400), never a crash. */
export function parseCallerHeader(value: string | undefined): { ok: true; caller: CallerContext } | { ok: false; reply: Reply } {
  const bad = (message: string) => ({ ok: false as const, reply: rejected(400, 'invalid_caller_context', message) });
  if (!value) return bad('the caller context header is missing');
  if (Buffer.byteLength(value, 'utf8') > MAX_CALLER_HEADER_BYTES) return bad('the caller context header is too large');
  // Headers are decoded leniently by the client: invalid UTF-8 shows as replacement characters.
  if (value.includes('\uFFFD')) return bad('the caller context header is not valid UTF-8');
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return bad('the caller context header is not valid JSON');
  }
  const caller = CallerContext.safeParse(raw);
  if (!caller.success) return bad(`the caller context header is malformed (${describeIssues(caller.error)})`);
  return { ok: true, caller: caller.data };
}

/** Reads a request body: strict UTF-8, then JSON. An empty body is not a JSON document. */
export function parseRequestBody(data: Uint8Array): { ok: true; value: unknown } | { ok: false; reply: Reply } {
  let text: string;
  try {
    text = strictUtf8.decode(data);
  } catch {
    return { ok: false, reply: rejected(400, 'invalid_encoding', 'request body is not valid UTF-8') };
  }
  if (text.trim() === '') return { ok: false, reply: rejected(400, 'invalid_json', 'request body is empty') };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reply: rejected(400, 'invalid_json', 'request body is not valid JSON') };
  }
}

/**
 * Serves request/reply routes for one service on a queue group, so several instances
 * share the load. Requests are validated before the handler sees them and responses
 * before they leave; an unexpected error answers a generic 500 and is logged scrubbed.
 * Nothing a sender puts on the wire — headers, body, encoding, a missing reply subject —
 * can make `answer` throw: every path ends in a reply (or, with nobody to reply to, a log line).
 */
export class RpcServer {
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly service: ServiceName,
    private readonly logger: Logger,
    private readonly metrics: MessagingMetrics,
  ) {}

  serve<R extends RpcRoute>(route: R, handler: RpcHandler<R>): void {
    if (route.service !== this.service) throw new Error(`route ${route.service}.${route.method} does not belong to ${this.service}`);
    const subscription = this.nc.subscribe(rpcSubject(this.namespace, route.service, route.method), {
      queue: this.service,
      callback: (error, msg) => {
        if (error) {
          this.logger.error({ err: error, route: route.method }, 'rpc subscription failed');
          return;
        }
        this.answer(route, handler, msg).catch((failure: unknown) => {
          // answer() catches everything it knows of; this is the last net, so the process never sees a rejection.
          this.logger.error({ err: failure, route: route.method }, 'rpc answer failed');
        });
      },
    });
    this.subscriptions.push(subscription);
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.map((subscription) => subscription.drain()));
    this.subscriptions.length = 0;
  }

  private async answer<R extends RpcRoute>(route: R, handler: RpcHandler<R>, msg: Msg): Promise<void> {
    const started = performance.now();
    if (!msg.reply) {
      // Nobody would hear the answer: do not run the handler (its side effects would be unasked for).
      this.metrics.rpcRequests.inc({ route: route.method, outcome: 'rejected' });
      this.logger.warn({ route: route.method }, 'rpc request without a reply subject ignored');
      return;
    }
    let reply: Reply;
    try {
      reply = await withSpan(
        `rpc ${route.service}.${route.method}`,
        { kind: SpanKind.SERVER, parent: extractTraceContext(headerRecord(msg.headers)), attributes: { 'rpc.system': 'nats', 'rpc.method': route.method } },
        () => this.dispatch(route, handler, msg),
      );
    } catch (error) {
      this.logger.error({ err: error, route: route.method }, 'rpc dispatch failed');
      reply = rejected(500, 'internal_error', 'the service failed to handle the request');
    }
    const outcome = reply.ok ? 'ok' : reply.error.status >= 500 ? 'error' : 'rejected';
    this.metrics.rpcRequests.inc({ route: route.method, outcome });
    this.metrics.rpcSeconds.observe({ route: route.method }, (performance.now() - started) / 1000);
    let encoded: string;
    try {
      encoded = JSON.stringify(reply);
    } catch (error) {
      this.logger.error({ err: error, route: route.method }, 'rpc reply could not be encoded');
      encoded = JSON.stringify(rejected(500, 'internal_error', 'the service failed to handle the request'));
    }
    msg.respond(encoded);
  }

  private async dispatch<R extends RpcRoute>(route: R, handler: RpcHandler<R>, msg: Msg): Promise<Reply> {
    const caller = parseCallerHeader(msg.headers?.get(CONTEXT_HEADER));
    if (!caller.ok) return caller.reply;
    const body = parseRequestBody(msg.data);
    if (!body.ok) return body.reply;
    const request = route.request.safeParse(body.value);
    if (!request.success) return rejected(400, 'validation_failed', describeIssues(request.error));
    try {
      const result = await handler(request.data as RpcRequest<R>, caller.caller);
      const response = route.response.safeParse(result);
      if (!response.success) throw new Error(`response of ${route.method} failed its schema: ${describeIssues(response.error)}`);
      return { ok: true, body: response.data };
    } catch (error) {
      if (error instanceof RpcError) return { ok: false, error: error.toBody() };
      if (isInfrastructureFailure(error)) {
        // The database (or NATS) is away, not the request at fault: tell the caller to come back.
        this.logger.warn({ err: error, route: route.method, requestId: caller.caller.requestId }, 'rpc handler could not reach a dependency');
        return { ok: false, error: { status: 503, code: 'service_unavailable', message: `the ${this.service} service cannot reach a dependency; try again shortly`, retryAfterSeconds: 5 } };
      }
      this.logger.error({ err: error, route: route.method, requestId: caller.caller.requestId }, 'rpc handler failed');
      return rejected(500, 'internal_error', 'the service failed to handle the request');
    }
  }
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string | undefined> {
  const record: Record<string, string | undefined> = {};
  for (const [key, values] of h ?? []) record[key.toLowerCase()] = values[0];
  return record;
}

const ReplyEnvelope = z.discriminatedUnion('ok', [z.strictObject({ ok: z.literal(true), body: z.unknown() }), z.strictObject({ ok: z.literal(false), error: RpcErrorBody })]);

/** Calls routes of other services; a service that is down answers 503 at once, a slow one 504. */
export class RpcClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly defaultTimeoutMs = 5_000,
  ) {}

  async call<R extends RpcRoute>(route: R, request: RpcRequest<R>, caller: CallerContext, options: { timeoutMs?: number } = {}): Promise<RpcResponse<R>> {
    const h = natsHeaders();
    h.set(CONTEXT_HEADER, JSON.stringify(CallerContext.parse(caller)));
    for (const [key, value] of Object.entries(injectTraceHeaders({}))) h.set(key, value);
    let msg: Msg;
    try {
      msg = await this.nc.request(rpcSubject(this.namespace, route.service, route.method), JSON.stringify(request), {
        timeout: options.timeoutMs ?? this.defaultTimeoutMs,
        headers: h,
      });
    } catch (error) {
      if (isNoResponders(error)) throw new RpcError(503, 'service_unavailable', `the ${route.service} service is unavailable`, 5);
      if (isTimeout(error)) throw new RpcError(504, 'service_timeout', `the ${route.service} service did not answer in time`);
      throw new RpcError(503, 'service_unavailable', `the ${route.service} service could not be reached: ${scrubPersonalData(String(error))}`);
    }
    const parsed = parseRequestBody(msg.data);
    const reply = ReplyEnvelope.safeParse(parsed.ok ? parsed.value : undefined);
    if (!reply.success) throw new RpcError(502, 'bad_service_reply', `the ${route.service} service answered with a malformed reply`);
    if (!reply.data.ok) {
      const body = reply.data.error;
      throw new RpcError(body.status, body.code, body.message, body.retryAfterSeconds);
    }
    const response = route.response.safeParse(reply.data.body);
    if (!response.success) throw new RpcError(502, 'bad_service_reply', `the ${route.service} service answered with a malformed reply`);
    return response.data as RpcResponse<R>;
  }
}

function isNoResponders(error: unknown): boolean {
  return (error instanceof natsErrors.RequestError && error.isNoResponders()) || error instanceof natsErrors.NoRespondersError;
}

function isTimeout(error: unknown): boolean {
  return error instanceof natsErrors.TimeoutError || (error instanceof Error && error.cause instanceof natsErrors.TimeoutError);
}

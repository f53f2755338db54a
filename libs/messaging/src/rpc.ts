import { SpanKind } from '@opentelemetry/api';
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

function describeIssues(error: { issues: Array<{ path: PropertyKey[]; code: string; message: string }> }): string {
  const issue = error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'body';
  return `${field}: ${issue.message}`;
}

/**
 * Serves request/reply routes for one service on a queue group, so several instances
 * share the load. Requests are validated before the handler sees them and responses
 * before they leave; an unexpected error answers a generic 500 and is logged scrubbed.
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
        void this.answer(route, handler, msg);
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
    const reply = await withSpan(
      `rpc ${route.service}.${route.method}`,
      { kind: SpanKind.SERVER, parent: extractTraceContext(headerRecord(msg.headers)), attributes: { 'rpc.system': 'nats', 'rpc.method': route.method } },
      () => this.dispatch(route, handler, msg),
    );
    const outcome = reply.ok ? 'ok' : reply.error.status >= 500 ? 'error' : 'rejected';
    this.metrics.rpcRequests.inc({ route: route.method, outcome });
    this.metrics.rpcSeconds.observe({ route: route.method }, (performance.now() - started) / 1000);
    msg.respond(JSON.stringify(reply));
  }

  private async dispatch<R extends RpcRoute>(route: R, handler: RpcHandler<R>, msg: Msg): Promise<Reply> {
    const caller = CallerContext.safeParse(JSON.parse(msg.headers?.get(CONTEXT_HEADER) || '{}'));
    if (!caller.success) return { ok: false, error: { status: 500, code: 'bad_caller_context', message: 'caller context is malformed' } };
    let input: unknown;
    try {
      input = msg.json();
    } catch {
      return { ok: false, error: { status: 400, code: 'invalid_json', message: 'request body is not valid JSON' } };
    }
    const request = route.request.safeParse(input);
    if (!request.success) return { ok: false, error: { status: 400, code: 'validation_failed', message: describeIssues(request.error) } };
    try {
      const result = await handler(request.data as RpcRequest<R>, caller.data);
      const response = route.response.safeParse(result);
      if (!response.success) throw new Error(`response of ${route.method} failed its schema: ${describeIssues(response.error)}`);
      return { ok: true, body: response.data };
    } catch (error) {
      if (error instanceof RpcError) return { ok: false, error: error.toBody() };
      this.logger.error({ err: error, route: route.method, requestId: caller.data.requestId }, 'rpc handler failed');
      return { ok: false, error: { status: 500, code: 'internal_error', message: 'the service failed to handle the request' } };
    }
  }
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string | undefined> {
  const record: Record<string, string | undefined> = {};
  for (const [key, values] of h ?? []) record[key.toLowerCase()] = values[0];
  return record;
}

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
    const reply = msg.json<Reply>();
    if (!reply.ok) {
      const body = RpcErrorBody.parse(reply.error);
      throw new RpcError(body.status, body.code, body.message, body.retryAfterSeconds);
    }
    return route.response.parse(reply.body) as RpcResponse<R>;
  }
}

function isNoResponders(error: unknown): boolean {
  return (error instanceof natsErrors.RequestError && error.isNoResponders()) || error instanceof natsErrors.NoRespondersError;
}

function isTimeout(error: unknown): boolean {
  return error instanceof natsErrors.TimeoutError || (error instanceof Error && error.cause instanceof natsErrors.TimeoutError);
}

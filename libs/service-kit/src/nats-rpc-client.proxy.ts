import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import { from, Observable } from 'rxjs';
import type { EntityManager } from 'typeorm';
import { parseEventPayload, type CallerContext, type EventContract, type RpcRequest, type RpcRoute } from '@homiwork/contracts';
import { RpcClient, type Outbox } from '@homiwork/messaging';
import { rpcPattern } from './decorators.js';

/** What `send` carries: the request, who is asking (the gateway's CallerContext), and optionally a tighter time-out. */
export interface RpcCall<R extends RpcRoute = RpcRoute> {
  request: RpcRequest<R>;
  caller: CallerContext;
  timeoutMs?: number;
}

export interface NatsRpcClientProxyOptions {
  nc: NatsConnection;
  namespace: string;
  defaultTimeoutMs?: number;
  /** Routes callable by their pattern string (`rpc.identity.me.get`); a route object is always accepted as the pattern. */
  routes?: readonly RpcRoute[];
  /**
   * Where `emit` writes: the service's outbox, in the transaction the caller is in
   * (`Transactor.run`, or an event handler's). Absent for a service without a database.
   */
  outbox?: {
    outbox: Outbox;
    /** The ambient transaction of this service's database, or undefined outside one. */
    currentTransaction: () => EntityManager | undefined;
    /** Events emittable by their pattern string (`evt.identity.user-registered.v1`) or type (`UserRegistered.v1`). */
    events?: readonly EventContract[];
  };
}

/**
 * A Nest ClientProxy over the same request/reply as RpcClient: `send(route, {request,
 * caller})` answers the validated response or fails with the RpcError RpcClient gives —
 * 503 at once when no instance serves the route, 504 on time-out, the service's own
 * status and code otherwise.
 *
 * `emit(event, payload)` does not publish: events leave a service only through its
 * transactional outbox, so `emit` appends to the outbox in the caller's transaction and
 * refuses, synchronously, outside one. Await it (`await lastValueFrom(client.emit(…))`)
 * before the transaction ends, as with `Outbox.append`.
 */
export class NatsRpcClientProxy extends ClientProxy {
  private readonly rpc: RpcClient;
  private readonly routes = new Map<string, RpcRoute>();
  private readonly events = new Map<string, EventContract>();

  constructor(private readonly options: NatsRpcClientProxyOptions) {
    super();
    this.rpc = new RpcClient(options.nc, options.namespace, options.defaultTimeoutMs);
    for (const route of options.routes ?? []) this.routes.set(rpcPattern(route), route);
    for (const event of options.outbox?.events ?? []) {
      this.events.set(`evt.${event.subjectSuffix}`, event);
      this.events.set(event.type, event);
    }
  }

  /** The service kit's connection is already open; there is nothing to connect. */
  connect(): Promise<NatsConnection> {
    return Promise.resolve(this.options.nc);
  }

  /** The connection belongs to the service kit, which drains it at shutdown. */
  close(): void {}

  unwrap<T = NatsConnection>(): T {
    return this.options.nc as T;
  }

  /**
   * As ClientProxy.send, without its connect step (a `defer` of an async connect() and a
   * mergeMap on every call): the connection is open before any provider exists, so the
   * step is pure per-call overhead on the hot path (see bench/transport.bench.ts, "proxy").
   */
  override send<TResult = unknown, TInput = RpcCall>(pattern: unknown, data: TInput): Observable<TResult> {
    return new Observable<TResult>((observer) => this.publish(this.createPacket(pattern, data), this.createObserver(observer)));
  }

  /** Appends at once (not on subscription), so the row is written in the caller's transaction even if the observable is read later. */
  override emit<TResult = string, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    const appended = this.dispatchEvent<TResult>({ pattern, data });
    // The caller may not subscribe; the error still reaches anyone who does.
    appended.catch(() => undefined);
    return from(appended);
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    let route: RpcRoute;
    let call: RpcCall;
    try {
      route = this.routeOf(packet.pattern);
      call = asRpcCall(packet.data);
    } catch (error) {
      callback({ err: error });
      return () => undefined;
    }
    this.rpc.call(route, call.request, call.caller, call.timeoutMs === undefined ? {} : { timeoutMs: call.timeoutMs }).then(
      (response: unknown) => callback({ response, isDisposed: true }),
      (error: unknown) => callback({ err: error }),
    );
    // A NATS request cannot be withdrawn; an unsubscribed caller simply never sees the reply.
    return () => undefined;
  }

  /**
   * Validates and appends in the calling tick, throwing synchronously when there is no
   * transaction (or no such event, or an invalid payload), so the mistake cannot pass
   * unnoticed by a caller that does not subscribe.
   */
  protected dispatchEvent<T = string>(packet: ReadPacket): Promise<T> {
    const outbox = this.options.outbox;
    if (!outbox) throw new Error('this service has no outbox: only a service with a database can emit events');
    const event = this.eventOf(packet.pattern);
    const manager = outbox.currentTransaction();
    if (!manager) {
      throw new Error(`${event.type} must be emitted inside the transaction of the change it announces (Transactor.run or an event handler); events leave a service only through its outbox`);
    }
    const payload = parseEventPayload(event, packet.data);
    return outbox.outbox.append(manager, event, payload) as Promise<T>;
  }

  private routeOf(pattern: unknown): RpcRoute {
    if (isRoute(pattern)) return pattern;
    const route = typeof pattern === 'string' ? this.routes.get(pattern) : undefined;
    if (!route) throw new Error(`no route contract for pattern ${String(pattern)}: pass the route or list it in routes`);
    return route;
  }

  private eventOf(pattern: unknown): EventContract {
    if (isEvent(pattern)) return pattern;
    const event = typeof pattern === 'string' ? this.events.get(pattern) : undefined;
    if (!event) throw new Error(`no event contract for pattern ${String(pattern)}: pass the event or list it in events`);
    return event;
  }
}

function isRoute(pattern: unknown): pattern is RpcRoute {
  return typeof pattern === 'object' && pattern !== null && 'method' in pattern && 'request' in pattern && 'response' in pattern;
}

function isEvent(pattern: unknown): pattern is EventContract {
  return typeof pattern === 'object' && pattern !== null && 'subjectSuffix' in pattern && 'schema' in pattern;
}

function asRpcCall(data: unknown): RpcCall {
  if (typeof data !== 'object' || data === null || !('request' in data) || !('caller' in data)) {
    throw new Error('send() takes { request, caller }: the caller context travels with every request');
  }
  return data as RpcCall;
}

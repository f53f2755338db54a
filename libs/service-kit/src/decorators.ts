import { Catch, UseFilters, type RpcExceptionFilter } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { PARAM_ARGS_METADATA } from '@nestjs/microservices/constants.js';
import { throwError, type Observable } from 'rxjs';
import type { ConsumerContract, RpcRoute } from '@homiwork/contracts';

/** Handlers carrying this transport id are served by NatsJetStreamServer and by no other transport the app may connect. */
export const NATS_JETSTREAM_TRANSPORT = Symbol('homiwork:nats-jetstream');

/** Keys of the pattern extras that bind a handler to its contract: the transport takes subjects, schemas and backoff from it. */
export const ROUTE_EXTRA = 'homiworkRoute';
export const CONSUMER_EXTRA = 'homiworkConsumer';

/** The pattern of a route: its NATS subject without the namespace (`rpc.identity.me.get`). */
export function rpcPattern(route: RpcRoute): string {
  return `rpc.${route.service}.${route.method}`;
}

/** The pattern of a consumer: the subject of its event without the namespace (`evt.identity.user-registered.v1`). */
export function eventPattern(consumer: ConsumerContract): string {
  return `evt.${consumer.event.subjectSuffix}`;
}

/**
 * Nest's default RPC exception filter turns every error into `{status: 'error', message}`;
 * this one hands the original error back to the transport, which maps it exactly as
 * RpcServer always has (RpcError → its status and code, anything else → a generic 500
 * logged scrubbed) and, for events, retries or dead-letters it.
 */
@Catch()
class HandErrorsToTransport implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
const handErrorsToTransport = new HandErrorsToTransport();

/**
 * Without parameter decorators Nest passes a pattern handler its payload only; our
 * handlers take the caller context (RPC) or the event context (events) second, so a
 * handler that declares neither gets `(@Payload() payload, @Ctx() context)`. A handler
 * with its own @Payload/@Ctx keeps them (parameter decorators run before this one).
 */
function payloadThenContext(): MethodDecorator {
  return (target, key) => {
    if (Reflect.getMetadata(PARAM_ARGS_METADATA, target.constructor, key)) return;
    Payload()(target, key, 0);
    Ctx()(target, key, 1);
  };
}

function compose(decorators: MethodDecorator[]): MethodDecorator {
  return (target, key, descriptor) => {
    for (const decorator of decorators) decorator(target, key, descriptor);
  };
}

/**
 * `@MessagePattern` for a request/reply route contract: the handler receives the
 * validated request and the CallerContext and returns the response its schema allows.
 */
export const OnRpc = (route: RpcRoute): MethodDecorator =>
  compose([payloadThenContext(), UseFilters(handErrorsToTransport), MessagePattern(rpcPattern(route), NATS_JETSTREAM_TRANSPORT, { [ROUTE_EXTRA]: route })]);

/**
 * `@EventPattern` for a durable consumer contract: the handler receives the validated
 * payload and an EventContext whose `manager` is the transaction it must use.
 */
export const OnEvent = (consumer: ConsumerContract): MethodDecorator =>
  compose([payloadThenContext(), UseFilters(handErrorsToTransport), EventPattern<string>(eventPattern(consumer), NATS_JETSTREAM_TRANSPORT, { [CONSUMER_EXTRA]: consumer })]);

import { SetMetadata } from '@nestjs/common';
import type { ConsumerContract, RpcRoute } from '@homiwork/contracts';

export const EVENT_HANDLER_METADATA = 'homiwork:event-handler';
export const RPC_HANDLER_METADATA = 'homiwork:rpc-handler';

/**
 * Marks a provider method as the handler of a durable consumer. The method receives the
 * validated payload and an EventContext whose `manager` is the transaction it must use.
 */
export const OnEvent = (consumer: ConsumerContract): MethodDecorator => SetMetadata(EVENT_HANDLER_METADATA, consumer);

/** Marks a provider method as the handler of a request/reply route. */
export const OnRpc = (route: RpcRoute): MethodDecorator => SetMetadata(RPC_HANDLER_METADATA, route);

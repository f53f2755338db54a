export { CreateMessagingTables1764200000000, outboxChannel } from './messaging-tables.migration.js';
export { Outbox } from './outbox.js';
export { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export { EventConsumer, type EventConsumerOptions, type EventContext, type EventHandler } from './event-consumer.js';
export { MessagingMetrics, type ConsumeOutcome } from './messaging-metrics.js';
export { provisionStreams, DEFAULT_STREAM_LIMITS, type StreamLimits } from './streams.js';
export { RpcServer, RpcClient, RpcError, type RpcHandler } from './rpc.js';
export { connectToNats, type NatsHandles } from './nats.js';
export * from './headers.js';

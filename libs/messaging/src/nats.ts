import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * One connection per process, reconnecting forever: a NATS restart must not kill a
 * service. `noAsyncTraces` stops the client from capturing a stack trace for every
 * publish and request (measured: ~15 % of the event pipeline's CPU, relay throughput
 * 15k → 24k/s); the price is shorter stack traces on NATS errors.
 */
export async function connectToNats(url: string, name: string): Promise<NatsHandles> {
  const nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

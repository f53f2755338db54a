/**
 * One process of the events bench (bench/events.bench.ts starts it with the repo's Node,
 * the swc loader and an IPC channel): a raw JetStream publisher or consumer, or one part
 * of the outbox pipeline — producer, relay or consumer — as it runs in a deployed service.
 */
import 'reflect-metadata';
import { die, workerSettings } from './worker-kit.js';

const settings = workerSettings();
try {
  switch (settings.role) {
    case 'raw-publisher':
      await (await import('./raw-publisher.js')).runRawPublisher(settings);
      break;
    case 'raw-consumer':
      await (await import('./raw-consumer.js')).runRawConsumer(settings);
      break;
    case 'producer':
      await (await import('./producer.js')).runProducer(settings);
      break;
    case 'relay':
      await (await import('./relay.js')).runRelay(settings);
      break;
    case 'consumer':
      await (await import('./consumer.js')).runConsumer(settings);
      break;
  }
} catch (error) {
  die(error);
}

import { PrimeStatusChangedV1 } from './events/prime-status-changed.v1.js';
import { defineConsumer } from './names.js';

// Every durable consumer of the system, by service. Their names are stored in JetStream
// (a consumer's position lives under it), so they are declared once, here.

export const IdentityConsumers = {
  primeStatusChanged: defineConsumer({ service: 'identity', event: PrimeStatusChangedV1 }),
};

export const ALL_CONSUMERS = [...Object.values(IdentityConsumers)];

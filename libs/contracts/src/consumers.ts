import { PrimeStatusChangedV1 } from './events/prime-status-changed.v1.js';
import { ProhibitedContentDetectedV1 } from './events/prohibited-content-detected.v1.js';
import { UploadExpiredV1 } from './events/upload-expired.v1.js';
import { UserDeletedV1 } from './events/user-deleted.v1.js';
import { defineConsumer } from './names.js';

// Every durable consumer of the system, by service. Their names are stored in JetStream
// (a consumer's position lives under it), so they are declared once, here.

export const IdentityConsumers = {
  primeStatusChanged: defineConsumer({ service: 'identity', event: PrimeStatusChangedV1 }),
  prohibitedContentDetected: defineConsumer({ service: 'identity', event: ProhibitedContentDetectedV1 }),
};

export const MediaConsumers = {
  userDeleted: defineConsumer({ service: 'media', event: UserDeletedV1 }),
  uploadExpired: defineConsumer({ service: 'media', event: UploadExpiredV1 }),
};

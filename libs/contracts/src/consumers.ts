import { ChatHistoryExpiredV1 } from './events/chat-history-expired.v1.js';
import { ContentDeletedV1 } from './events/content-deleted.v1.js';
import { ContentExpiredV1 } from './events/content-expired.v1.js';
import { GenerationFinishedV1 } from './events/generation-finished.v1.js';
import { PrimeStatusChangedV1 } from './events/prime-status-changed.v1.js';
import { ProhibitedContentDetectedV1 } from './events/prohibited-content-detected.v1.js';
import { UploadExpiredV1 } from './events/upload-expired.v1.js';
import { UserDeletedV1 } from './events/user-deleted.v1.js';
import { UserRegisteredV1 } from './events/user-registered.v1.js';
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
  /** §2.1.6: deleted content takes the uploads it was made from with it. */
  contentDeleted: defineConsumer({ service: 'media', event: ContentDeletedV1 }),
};

export const GenerationConsumers = {
  userDeleted: defineConsumer({ service: 'generation', event: UserDeletedV1 }),
  contentExpired: defineConsumer({ service: 'generation', event: ContentExpiredV1 }),
  primeStatusChanged: defineConsumer({ service: 'generation', event: PrimeStatusChangedV1 }),
};

export const BillingConsumers = {
  userDeleted: defineConsumer({ service: 'billing', event: UserDeletedV1 }),
  userRegistered: defineConsumer({ service: 'billing', event: UserRegisteredV1 }),
  generationFinished: defineConsumer({ service: 'billing', event: GenerationFinishedV1 }),
};

export const ChatConsumers = {
  userDeleted: defineConsumer({ service: 'chat', event: UserDeletedV1 }),
  primeStatusChanged: defineConsumer({ service: 'chat', event: PrimeStatusChangedV1 }),
  chatHistoryExpired: defineConsumer({ service: 'chat', event: ChatHistoryExpiredV1 }),
};

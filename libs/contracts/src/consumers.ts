import { ContentCreatedV1 } from './events/content-created.v1.js';
import { ContentRestoredV1 } from './events/content-restored.v1.js';
import { ErasureApprovedV1 } from './events/erasure-approved.v1.js';
import { ErasureRequestedV1 } from './events/erasure-requested.v1.js';
import { InactiveAccountDueV1 } from './events/inactive-account-due.v1.js';
import { ProcessingRestrictionChangedV1 } from './events/processing-restriction-changed.v1.js';
import { PurgeCompletedV1 } from './events/purge-completed.v1.js';
import { UploadStoredV1 } from './events/upload-stored.v1.js';
import { UserSeenV1 } from './events/user-seen.v1.js';
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
  /** Retention's go-ahead: delete the account and announce UserDeleted. */
  erasureApproved: defineConsumer({ service: 'identity', event: ErasureApprovedV1 }),
  /** §5.2: warn by email, then erase, an account unused for a year. */
  inactiveAccountDue: defineConsumer({ service: 'identity', event: InactiveAccountDueV1 }),
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
  processingRestrictionChanged: defineConsumer({ service: 'generation', event: ProcessingRestrictionChangedV1 }),
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
  processingRestrictionChanged: defineConsumer({ service: 'chat', event: ProcessingRestrictionChangedV1 }),
};

/** Retention learns every lifecycle fact the policy clock counts from, and every receipt. */
export const RetentionConsumers = {
  userRegistered: defineConsumer({ service: 'retention', event: UserRegisteredV1 }),
  userSeen: defineConsumer({ service: 'retention', event: UserSeenV1 }),
  uploadStored: defineConsumer({ service: 'retention', event: UploadStoredV1 }),
  contentCreated: defineConsumer({ service: 'retention', event: ContentCreatedV1 }),
  contentDeleted: defineConsumer({ service: 'retention', event: ContentDeletedV1 }),
  contentRestored: defineConsumer({ service: 'retention', event: ContentRestoredV1 }),
  /** Chat activity (purpose `chat`): the days a user wrote to an assistant. */
  generationFinished: defineConsumer({ service: 'retention', event: GenerationFinishedV1 }),
  primeStatusChanged: defineConsumer({ service: 'retention', event: PrimeStatusChangedV1 }),
  /** §12.2: prohibited content places a legal hold automatically. */
  prohibitedContentDetected: defineConsumer({ service: 'retention', event: ProhibitedContentDetectedV1 }),
  erasureRequested: defineConsumer({ service: 'retention', event: ErasureRequestedV1 }),
  userDeleted: defineConsumer({ service: 'retention', event: UserDeletedV1 }),
  purgeCompleted: defineConsumer({ service: 'retention', event: PurgeCompletedV1 }),
};

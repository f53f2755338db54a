import type { EventContract } from './event-contract.js';
import { AccountBlockedV1 } from './events/account-blocked.v1.js';
import { ErasureApprovedV1 } from './events/erasure-approved.v1.js';
import { ErasureRequestedV1 } from './events/erasure-requested.v1.js';
import { ProcessingRestrictionChangedV1 } from './events/processing-restriction-changed.v1.js';
import { ChatHistoryExpiredV1 } from './events/chat-history-expired.v1.js';
import { ContentCreatedV1 } from './events/content-created.v1.js';
import { ContentDeletedV1 } from './events/content-deleted.v1.js';
import { ContentExpiredV1 } from './events/content-expired.v1.js';
import { ContentRestoredV1 } from './events/content-restored.v1.js';
import { GenerationFinishedV1 } from './events/generation-finished.v1.js';
import { InactiveAccountDueV1 } from './events/inactive-account-due.v1.js';
import { LegalHoldPlacedV1 } from './events/legal-hold-placed.v1.js';
import { LegalHoldReleasedV1 } from './events/legal-hold-released.v1.js';
import { PrimeStatusChangedV1 } from './events/prime-status-changed.v1.js';
import { ProhibitedContentDetectedV1 } from './events/prohibited-content-detected.v1.js';
import { PurgeCompletedV1 } from './events/purge-completed.v1.js';
import { UploadExpiredV1 } from './events/upload-expired.v1.js';
import { UploadStoredV1 } from './events/upload-stored.v1.js';
import { UserDeletedV1 } from './events/user-deleted.v1.js';
import { UserRegisteredV1 } from './events/user-registered.v1.js';
import { UserSeenV1 } from './events/user-seen.v1.js';

/** Every event of the system, for documentation, tests and tooling. */
export const EVENT_CATALOGUE: readonly EventContract[] = [
  UserRegisteredV1,
  UserDeletedV1,
  UserSeenV1,
  AccountBlockedV1,
  PrimeStatusChangedV1,
  UploadStoredV1,
  UploadExpiredV1,
  ProhibitedContentDetectedV1,
  ContentCreatedV1,
  ContentDeletedV1,
  ContentRestoredV1,
  ContentExpiredV1,
  GenerationFinishedV1,
  ChatHistoryExpiredV1,
  InactiveAccountDueV1,
  ErasureRequestedV1,
  ErasureApprovedV1,
  ProcessingRestrictionChangedV1,
  LegalHoldPlacedV1,
  LegalHoldReleasedV1,
  PurgeCompletedV1,
];

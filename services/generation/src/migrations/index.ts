import { CreateMessagingTables1764200000000 } from '@homiwork/messaging';
import { CreateTombstones1765000000000 } from '@homiwork/persistence';
import { CreateGenerationTables1764900009103 } from './1764900009103-create-generation-tables.js';
import { IndexTombstonesByErasure1765200000000 } from './1765200000000-index-tombstones-by-erasure.js';
import { CreateProcessingRestrictions1766100000000 } from '@homiwork/persistence';
import { AddJobTraceParent1766300000000 } from './1766300000000-add-job-trace-parent.js';

/**
 * In order; the messaging tables (outbox, inbox) first. The tombstones table is the
 * rule every service keeping user data follows: once it has purged a user on
 * UserDeleted, nothing for that user is written again (see PurgeUser).
 */
export const GENERATION_MIGRATIONS = [CreateMessagingTables1764200000000, CreateGenerationTables1764900009103, CreateTombstones1765000000000, IndexTombstonesByErasure1765200000000, CreateProcessingRestrictions1766100000000, AddJobTraceParent1766300000000];

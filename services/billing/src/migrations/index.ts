import { CreateMessagingTables1764200000000 } from '@homiwork/messaging';
import { CreateTombstones1765000000000 } from '@homiwork/persistence';
import { CreateBillingTables1764900009104 } from './1764900009104-create-billing-tables.js';
import { OpenOrderLimits1765100000000 } from './1765100000000-open-order-limits.js';

/**
 * In order; the messaging tables (outbox, inbox) first. The tombstones table is the
 * rule every service keeping user data follows: once it has purged a user on
 * UserDeleted, nothing for that user is written again (see PurgeUser).
 */
export const BILLING_MIGRATIONS = [CreateMessagingTables1764200000000, CreateBillingTables1764900009104, CreateTombstones1765000000000, OpenOrderLimits1765100000000];

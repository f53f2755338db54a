import { CreateMessagingTables1764200000000 } from '@homiwork/messaging';
import { CreateUserDataKeys1766000000000 } from '@homiwork/data-keys';
import { CreateTombstones1765000000000 } from '@homiwork/persistence';
import { CreateRetentionTables1764900009106 } from './1764900009106-create-retention-tables.js';
import { ExportBuilds1764900009400 } from './1764900009400-export-builds.js';

/**
 * In order; the messaging tables (outbox, inbox) first. The tombstones table is the
 * rule every service keeping user data follows: once it has purged a user on
 * UserDeleted, nothing for that user is written again (see PurgeUser). The data keys seal
 * each export archive's one-off key: destroyed with the user, the archive is unreadable.
 */
export const RETENTION_MIGRATIONS = [CreateMessagingTables1764200000000, CreateRetentionTables1764900009106, ExportBuilds1764900009400, CreateTombstones1765000000000, CreateUserDataKeys1766000000000];

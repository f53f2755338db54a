import { CreateUserDataKeys1766000000000 } from '@homiwork/data-keys';
import { CreateMessagingTables1764200000000 } from '@homiwork/messaging';
import { CreateTombstones1765000000000 } from '@homiwork/persistence';
import { CreateChatTables1764900009105 } from './1764900009105-create-chat-tables.js';
import { CreateProcessingRestrictions1766100000000 } from '@homiwork/persistence';
import { StoreMessageCapped1766200000000 } from './1766200000000-store-message-capped.js';

/**
 * In order; the messaging tables (outbox, inbox) first. The tombstones table is the
 * rule every service keeping user data follows: once it has purged a user on
 * UserDeleted, nothing for that user is written again (see PurgeUser). The user data keys
 * table holds each user's message key, destroyed on UserDeleted (crypto-shredding).
 */
export const CHAT_MIGRATIONS = [CreateMessagingTables1764200000000, CreateChatTables1764900009105, CreateTombstones1765000000000, CreateUserDataKeys1766000000000, CreateProcessingRestrictions1766100000000, StoreMessageCapped1766200000000];

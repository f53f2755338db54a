import { CreateMessagingTables1764200000000 } from '@homiwork/messaging';
import { CreateTombstones1765000000000 } from '@homiwork/persistence';
import { CreateIdentityTables1764300000000 } from './1764300000000-create-identity-tables.js';
import { RecordErasureRequests1765300000000 } from './1765300000000-record-erasure-requests.js';

export const IDENTITY_MIGRATIONS = [CreateMessagingTables1764200000000, CreateIdentityTables1764300000000, CreateTombstones1765000000000, RecordErasureRequests1765300000000];

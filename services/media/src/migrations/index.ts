import { CreateMessagingTables1764200000000 } from '@homiwork/messaging';
import { CreateTombstones1765000000000 } from '@homiwork/persistence';
import { CreateUploads1764400000000 } from './1764400000000-create-uploads.js';

export const MEDIA_MIGRATIONS = [CreateMessagingTables1764200000000, CreateUploads1764400000000, CreateTombstones1765000000000];

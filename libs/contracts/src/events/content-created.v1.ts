import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** Generated content exists; retention schedules its expiry by the user's Prime status (§5.4). */
export const ContentCreatedV1 = defineEvent({
  name: 'ContentCreated',
  version: 1,
  producer: 'generation',
  schema: z.strictObject({
    userId: id,
    contentId: id,
    kind: z.enum(['song', 'image', 'poem', 'text', 'video']),
    sourceUploadIds: z.array(id).max(16),
    createdAt: timestamp,
  }),
});

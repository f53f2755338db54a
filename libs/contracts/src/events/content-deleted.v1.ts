import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** The user deleted content; its source uploads go with it (§2.1.6). Restorable for 7 days (§5.4). */
export const ContentDeletedV1 = defineEvent({
  name: 'ContentDeleted',
  version: 1,
  producer: 'generation',
  schema: z.strictObject({ userId: id, contentId: id, sourceUploadIds: z.array(id).max(16), deletedAt: timestamp }),
});

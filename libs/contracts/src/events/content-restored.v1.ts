import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** The user took content back out of the trash within its 7 days (§5.4); its retention clock resumes. */
export const ContentRestoredV1 = defineEvent({
  name: 'ContentRestored',
  version: 1,
  producer: 'generation',
  schema: z.strictObject({ userId: id, contentId: id, restoredAt: timestamp }),
});

import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** Content reached the end of its retention (§5.4); generation purges it and confirms. */
export const ContentExpiredV1 = defineEvent({
  name: 'ContentExpired',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, contentId: id, expiredAt: timestamp }),
});

import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** Messages older than `before` with this assistant are past retention (§5.5). */
export const ChatHistoryExpiredV1 = defineEvent({
  name: 'ChatHistoryExpired',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, assistantId: z.string().regex(/^[a-z0-9-]{1,40}$/), before: timestamp }),
});

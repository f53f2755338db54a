import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/**
 * Messages written before `before` are past retention (§5.5): with this assistant, or with
 * every assistant when `assistantId` is absent (retention learns chat activity per user and
 * day, not per assistant). Chat deletes only what its own rule also finds due.
 */
export const ChatHistoryExpiredV1 = defineEvent({
  name: 'ChatHistoryExpired',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, assistantId: z.string().regex(/^[a-z0-9-]{1,40}$/).optional(), before: timestamp }),
});

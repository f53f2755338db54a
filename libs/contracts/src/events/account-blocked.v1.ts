import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** The account may no longer log in or generate (§12.2); a reason code, never free text. */
export const AccountBlockedV1 = defineEvent({
  name: 'AccountBlocked',
  version: 1,
  producer: 'identity',
  schema: z.strictObject({ userId: id, reason: z.enum(['prohibited_content', 'operator']), blockedAt: timestamp }),
});

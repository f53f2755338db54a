import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** Prime started, was extended or ended; retention re-plans content and chat expiry (§5.4, §5.5). */
export const PrimeStatusChangedV1 = defineEvent({
  name: 'PrimeStatusChanged',
  version: 1,
  producer: 'billing',
  schema: z.strictObject({ userId: id, active: z.boolean(), expiresAt: timestamp.nullable(), changedAt: timestamp }),
});

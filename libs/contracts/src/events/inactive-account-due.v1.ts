import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** No access for a year (§5.2, §10.3): identity erases the account, or warns first when `stage` is warning. */
export const InactiveAccountDueV1 = defineEvent({
  name: 'InactiveAccountDue',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, stage: z.enum(['warning', 'erasure']), lastSeenOn: z.iso.date(), erasureAt: timestamp }),
});

import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** The hold is over: deletions that were due go ahead as usual. */
export const LegalHoldReleasedV1 = defineEvent({
  name: 'LegalHoldReleased',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ holdId: id, userId: id, releasedAt: timestamp }),
});

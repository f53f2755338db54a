import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** Data of this user is exempt from every deletion until the hold is released (§12.2, R3.5). */
export const LegalHoldPlacedV1 = defineEvent({
  name: 'LegalHoldPlaced',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ holdId: id, userId: id, placedAt: timestamp }),
});

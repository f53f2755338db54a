import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/**
 * §9 (R7.3): a restriction of processing or an objection came into force (`restricted`
 * true) or the last one in force was lifted (false). While restricted, generation and chat
 * refuse to process the user's data (no generation, no chat reply); newest `changedAt` wins.
 */
export const ProcessingRestrictionChangedV1 = defineEvent({
  name: 'ProcessingRestrictionChanged',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, restricted: z.boolean(), changedAt: timestamp }),
});

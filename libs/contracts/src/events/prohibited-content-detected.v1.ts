import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/**
 * Moderation matched a rule (§12.2). Carries the rule's code only — never the content,
 * so the bus never transports the material itself.
 */
export const ProhibitedContentDetectedV1 = defineEvent({
  name: 'ProhibitedContentDetected',
  version: 1,
  producer: 'media',
  schema: z.strictObject({
    userId: id,
    subjectKind: z.enum(['upload', 'prompt']),
    rule: z.string().regex(/^[a-z0-9_.:-]{1,64}$/),
    detectedAt: timestamp,
  }),
});

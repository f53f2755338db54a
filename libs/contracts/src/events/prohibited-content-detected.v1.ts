import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/**
 * Moderation matched a rule (§12.2): in an upload (media), or in a prompt or a generated
 * result (generation, chat). Carries the rule's code only — never the content, so the bus
 * never transports the material itself. Announced by more than one service, hence `any`.
 */
export const ProhibitedContentDetectedV1 = defineEvent({
  name: 'ProhibitedContentDetected',
  version: 1,
  producer: 'any',
  publishers: ['media', 'generation', 'chat'],
  // Media moderates uploads; prompts are moderated where they are written; results by generation, which makes them.
  announcedBy: (detected) => (detected.subjectKind === 'upload' ? ['media'] : detected.subjectKind === 'prompt' ? ['generation', 'chat'] : ['generation']),
  schema: z.strictObject({
    userId: id,
    subjectKind: z.enum(['upload', 'prompt', 'generated']),
    rule: z.string().regex(/^[a-z0-9_.:-]{1,64}$/),
    detectedAt: timestamp,
  }),
});

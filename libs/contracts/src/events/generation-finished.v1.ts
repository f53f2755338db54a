import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/**
 * A generation job (or chat reply) ended: billing commits its energy reservation on
 * `succeeded` and refunds it on `failed` (R4.4). Written in the same transaction as the
 * job's final state, so the charge follows the outcome exactly once.
 */
export const GenerationFinishedV1 = defineEvent({
  name: 'GenerationFinished',
  version: 1,
  producer: 'any',
  publishers: ['generation', 'chat'],
  // Chat settles its messages' reservations, generation its jobs': neither the other's.
  announcedBy: (finished) => (finished.purpose === 'chat' ? ['chat'] : ['generation']),
  schema: z.strictObject({
    userId: id,
    /** The energy reservation's id: the job's id. */
    jobId: id,
    purpose: z.enum(['song', 'image', 'poem', 'text', 'video', 'chat']),
    outcome: z.enum(['succeeded', 'failed']),
    finishedAt: timestamp,
  }),
});

import { z } from 'zod';
import { DATA_OWNING_SERVICES } from '../services.js';
import { defineEvent } from '../event-contract.js';
import { counts, id, timestamp } from '../primitives.js';

/**
 * A service's proof that it purged what an event asked it to (R7.4, R8.3): which
 * service, what was purged, how many rows and objects, and in answer to which message.
 * Every data-owning service announces it, each under its own subject; `service` must be
 * the one the subject names (consumers check it, NATS permissions pin the subject).
 */
export const PurgeCompletedV1 = defineEvent({
  name: 'PurgeCompleted',
  version: 1,
  producer: 'any',
  announcedBy: (purge) => [purge.service],
  schema: z.strictObject({
    service: z.enum(DATA_OWNING_SERVICES),
    userId: id,
    erasureId: id.nullable(),
    scope: z.enum(['user', 'upload', 'content', 'chat_history', 'security_events']),
    scopeId: id.nullable(),
    // The event that asked for the purge; null for a service's own scheduled purge.
    trigger: z.strictObject({ type: z.string().regex(/^[A-Za-z]+\.v\d+$/), messageId: z.string().min(1).max(128) }).nullable(),
    counts,
    purgedAt: timestamp,
  }),
});

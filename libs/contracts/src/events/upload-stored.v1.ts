import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** A transformed upload was stored; retention schedules its deletion at expiresAt (§5.3). */
export const UploadStoredV1 = defineEvent({
  name: 'UploadStored',
  version: 1,
  producer: 'media',
  schema: z.strictObject({
    userId: id,
    uploadId: id,
    kind: z.enum(['image', 'audio', 'video', 'text']),
    storedAt: timestamp,
    expiresAt: timestamp,
  }),
});

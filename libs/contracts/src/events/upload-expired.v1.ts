import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** The 7-day life of an upload is over (§5.3); media purges it and confirms. */
export const UploadExpiredV1 = defineEvent({
  name: 'UploadExpired',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, uploadId: id, expiredAt: timestamp }),
});

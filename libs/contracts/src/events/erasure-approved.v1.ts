import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/**
 * Retention's go-ahead for an erasure: no legal hold stands in the way (any more). Identity
 * deletes the account and announces UserDeleted with the same erasureId, on which every
 * service purges. Published at most once per erasure.
 */
export const ErasureApprovedV1 = defineEvent({
  name: 'ErasureApproved',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, erasureId: id, approvedAt: timestamp }),
});

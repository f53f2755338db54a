import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** Why an account was erased (policy §10.1 user, §5.2/§10.3 inactivity, §13.2 minor, §9 request, operator). */
export const ErasureReason = z.enum(['user_request', 'privacy_request', 'inactivity', 'minor', 'operator']);

/**
 * The account is gone from identity; every service must purge what it holds for this
 * user and confirm with PurgeCompleted carrying the same erasureId (R1.5, R8.3).
 */
export const UserDeletedV1 = defineEvent({
  name: 'UserDeleted',
  version: 1,
  producer: 'identity',
  schema: z.strictObject({ userId: id, erasureId: id, reason: ErasureReason, deletedAt: timestamp }),
});

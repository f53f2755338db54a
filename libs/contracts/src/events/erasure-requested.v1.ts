import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';
import { ErasureReason } from './user-deleted.v1.js';

/**
 * An erasure was asked for (the user's DELETE /v1/me, a privacy request, inactivity, an
 * operator). Identity has already disabled the account — it cannot log in, its tokens are
 * revoked — but deletes nothing yet: retention opens the erasure record and, unless a
 * legal hold stops it (§12.2), answers with ErasureApproved. One erasureId per erasure;
 * asking again while one is open gives the open one.
 */
export const ErasureRequestedV1 = defineEvent({
  name: 'ErasureRequested',
  version: 1,
  producer: 'identity',
  schema: z.strictObject({ userId: id, erasureId: id, reason: ErasureReason, requestedAt: timestamp }),
});

import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id } from '../primitives.js';
import { ErasureReason } from './user-deleted.v1.js';

/** Retention asks identity to erase an account (privacy request, minor, operator); identity answers with UserDeleted. */
export const UserErasureRequestedV1 = defineEvent({
  name: 'UserErasureRequested',
  version: 1,
  producer: 'retention',
  schema: z.strictObject({ userId: id, erasureId: id, reason: ErasureReason }),
});

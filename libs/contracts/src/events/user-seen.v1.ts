import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id } from '../primitives.js';

/** The user was active on this day; sent at most once a day per user (R1.6). */
export const UserSeenV1 = defineEvent({
  name: 'UserSeen',
  version: 1,
  producer: 'identity',
  schema: z.strictObject({ userId: id, seenOn: z.iso.date() }),
});

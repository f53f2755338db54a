import { z } from 'zod';
import { defineEvent } from '../event-contract.js';
import { id, timestamp } from '../primitives.js';

/** A new account exists; retention starts its inactivity clock from here. */
export const UserRegisteredV1 = defineEvent({
  name: 'UserRegistered',
  version: 1,
  producer: 'identity',
  schema: z.strictObject({ userId: id, registeredAt: timestamp }),
});

import { z } from 'zod';

// Events carry opaque ids, codes and timestamps only: no email, username, prompt, IP or
// free text, so nothing personal rides on the bus (R8, "no personal data in events").
// Objects are strict so a producer cannot slip an extra field through.
export const id = z.uuid();
export const timestamp = z.iso.datetime({ offset: false });
export const counts = z.record(z.string().regex(/^[a-z][a-z_]{0,40}$/), z.number().int().nonnegative());

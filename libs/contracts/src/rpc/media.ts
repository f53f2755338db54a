import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';

/** An upload as clients see it: the transformed file's facts, never the original's. */
export const Upload = z.strictObject({
  id: z.uuid(),
  kind: z.enum(['image', 'audio', 'video', 'text']),
  mimeType: z.string(),
  bytes: z.number().int().nonnegative(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  durationMs: z.number().int().nonnegative().optional(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export type Upload = z.infer<typeof Upload>;

const UploadId = z.strictObject({ id: z.uuid() });

export const ListUploadsRoute = defineRoute({ service: 'media', method: 'uploads.list', request: z.strictObject({}), response: z.strictObject({ items: z.array(Upload) }) });
/** Generation asks too, to check that the uploads a generation names are the caller's own (with the caller's context). */
export const GetUploadRoute = defineRoute({ service: 'media', method: 'uploads.get', request: UploadId, response: Upload, callers: ['gateway', 'generation'] });
export const DeleteUploadRoute = defineRoute({ service: 'media', method: 'uploads.delete', request: UploadId, response: z.strictObject({}) });

import type { MediaRpc } from '@homiwork/contracts';
import type { Upload } from '../persistence/uploads.repository.js';

/** What a user is shown about an upload: never the object key or the owner. */
export function toUploadView(upload: Upload): MediaRpc.Upload {
  return {
    id: upload.id,
    kind: upload.kind,
    mimeType: upload.mimeType,
    bytes: upload.bytes,
    ...(upload.width ? { width: upload.width } : {}),
    ...(upload.height ? { height: upload.height } : {}),
    ...(upload.durationMs !== null ? { durationMs: upload.durationMs } : {}),
    createdAt: upload.createdAt.toISOString(),
    expiresAt: upload.expiresAt.toISOString(),
  };
}

import type { GenerationRpc } from '@homiwork/contracts';
import type { Content } from '../persistence/contents.repository.js';

/** Content as clients see it (API.md): no object key, no job or source ids. */
export function toContentView(content: Content): GenerationRpc.Content {
  return {
    id: content.id,
    kind: content.kind,
    mimeType: content.mimeType,
    bytes: content.bytes,
    createdAt: content.createdAt.toISOString(),
    expiresAt: content.expiresAt?.toISOString() ?? null,
    deletedAt: content.deletedAt?.toISOString() ?? null,
  };
}

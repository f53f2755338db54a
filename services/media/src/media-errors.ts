import { RpcError } from '@homiwork/messaging';
import { UploadRejected } from './processing/upload-rejected.js';

// The answers media gives, over NATS and over its internal byte API alike. Messages name
// the problem and never echo a file's content, name or metadata. (Refusals decided while
// reading a file's bytes are raised by the processing code as UploadRejected too.)
export const MediaErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  internalTokenRequired: () => new RpcError(401, 'unauthorized', 'internal token required'),
  callerContextRequired: () => new RpcError(401, 'unauthorized', 'caller context required'),
  uploadNotFound: () => new RpcError(404, 'not_found', 'no such upload'),
  // An upload that finishes after its account was deleted: 401 like every other request of
  // that account from then on (its tokens are revoked), and already a documented answer.
  accountDeleted: () => new RpcError(401, 'unauthorized', 'this account has been deleted; nothing was stored'),
  emptyFile: () => new UploadRejected(400, 'empty_file', 'the file is empty'),
  fileTooLarge: (kind: string, maxBytes: number) => new UploadRejected(413, 'file_too_large', `${kind} files may be at most ${Math.round(maxBytes / 1024 / 1024)} MB`),
  contentRejected: () => new UploadRejected(422, 'content_rejected', 'this file cannot be accepted under the service rules'),
};

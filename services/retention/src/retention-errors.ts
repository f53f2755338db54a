import { RpcError } from '@homiwork/messaging';

// The answers retention gives. Messages name the problem and never echo personal data.
export const RetentionErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
};

import { RpcError } from '@homiwork/messaging';

// The answers chat gives. Messages name the problem and never echo personal data.
export const ChatErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
};

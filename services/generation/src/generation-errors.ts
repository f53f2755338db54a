import { RpcError } from '@homiwork/messaging';

// The answers generation gives. Messages name the problem and never echo personal data.
export const GenerationErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
};

import { RpcError } from '@homiwork/messaging';

// The answers billing gives. Messages name the problem and never echo personal data.
export const BillingErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
};

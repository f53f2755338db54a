import { RpcError } from '@homiwork/messaging';
import type { CallerContext } from '@homiwork/contracts';

// The answers of privacy requests. Messages name the field and never echo personal data.
export const RequestErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  accountDeleted: () => new RpcError(401, 'unauthorized', 'this account has been deleted; nothing was stored'),
  operatorsOnly: () => new RpcError(403, 'forbidden', 'this action is for operators only'),
  notFound: () => new RpcError(404, 'not_found', 'id: no privacy request with this id'),
  notAwaitingVerification: () => new RpcError(409, 'not_awaiting_verification', 'id: this request is not waiting for verification; only an erasure request made without the password is'),
  notWithdrawable: () =>
    new RpcError(409, 'not_withdrawable', 'id: only a request waiting for verification can be withdrawn, or a restriction or objection in force lifted; this one is being carried out or is final'),
};

export function requireUser(caller: CallerContext): string {
  if (!caller.userId) throw RequestErrors.unauthenticated();
  return caller.userId;
}

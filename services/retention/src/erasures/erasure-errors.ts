import { RpcError } from '@homiwork/messaging';
import type { CallerContext } from '@homiwork/contracts';

// The answers of holds and erasures. Messages name the field and never echo personal data.
export const ErasureErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  operatorsOnly: () => new RpcError(403, 'forbidden', 'this action is for operators only'),
  erasureNotFound: () => new RpcError(404, 'not_found', 'erasureId: no erasure with this id'),
  holdNotFound: () => new RpcError(404, 'not_found', 'id: no active legal hold with this id'),
};

/**
 * Operators' routes are let through only for the `operator` role by the gateway; retention
 * checks again (defence in depth: any service on the bus could call). Returns the
 * operator's id, which is recorded as who placed or released a hold.
 */
export function requireOperator(caller: CallerContext): string {
  if (!caller.userId) throw ErasureErrors.unauthenticated();
  if (caller.role !== 'operator') throw ErasureErrors.operatorsOnly();
  return caller.userId;
}

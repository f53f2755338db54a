import { RpcError } from '@homiwork/messaging';
import type { CallerContext } from '@homiwork/contracts';

// The answers of holds and erasures. Messages name the field and never echo personal data.
export const ErasureErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  operatorsOnly: () => new RpcError(403, 'forbidden', 'this action is for operators only'),
  erasureNotFound: () => new RpcError(404, 'not_found', 'erasureId: no erasure with this id'),
  holdNotFound: () => new RpcError(404, 'not_found', 'id: no active legal hold with this id'),
  beforeIdAlone: () => new RpcError(400, 'validation_failed', 'beforeId: only together with before'),
  /**
   * An ErasureRequested met a ProhibitedContentDetected of the events stream that came before
   * it and is not applied yet (its automatic hold may be on the way). A 503 is what
   * `isInfrastructureFailure` (libs/messaging failure-kind.ts) reads as "try again, not the
   * message's fault": the consumer holds the message and applies it again after its growing
   * pause (0.5 s, 1 s, 2 s, … 10 s) — never counted, never dead-lettered — until the other
   * consumer has caught up.
   */
  prohibitedContentPending: () => new RpcError(503, 'prohibited_content_pending', 'erasure waits until every earlier ProhibitedContentDetected is applied'),
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

/** The page cursor of an operators' list request; `beforeId` without `before` is a 400 naming it. */
export function pageCursor(request: { before?: string | undefined; beforeId?: string | undefined }): { before?: Date; beforeId?: string } {
  if (request.beforeId !== undefined && request.before === undefined) throw ErasureErrors.beforeIdAlone();
  return request.before === undefined ? {} : { before: new Date(request.before), ...(request.beforeId ? { beforeId: request.beforeId } : {}) };
}

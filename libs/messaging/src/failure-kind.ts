/**
 * Tells an unreachable dependency from a handler's own failure. The distinction decides
 * what happens to an event: an infrastructure failure makes the consumer wait and try the
 * same messages again until the dependency is back (never counted, never dead-lettered),
 * while a handler failure is counted and, after the contract's attempts, dead-lettered.
 *
 * The rule for what is "infrastructure": a failure that says nothing about the message and
 * goes away by itself — the database or NATS cannot be reached or dropped the connection,
 * the server is shutting down or out of connections, or the transaction lost a
 * serialization/deadlock race. Anything that could be deterministic for one message (a
 * constraint violation, a statement timeout on a slow query, a bug) is the handler's, so
 * a poison message can never hold a consumer forever.
 */

/** Socket-level errors: the peer is not there (yet) or went away. */
const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ECONNABORTED']);

/** PostgreSQL SQLSTATEs that describe the server or the race, not the statement. */
function isTransientSqlState(code: string): boolean {
  return (
    code.startsWith('08') || // connection exception
    code === '40001' || // serialization_failure
    code === '40P01' || // deadlock_detected
    code === '55P03' || // lock_not_available
    code === '53300' || // too_many_connections
    code === '53000' || // insufficient_resources
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' // cannot_connect_now (starting up, in recovery)
  );
}

/** What node-postgres and pg-pool say when the connection is gone; they carry no code. */
const CONNECTION_LOST = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error/i,
  /connection is not queryable/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

/** nats.js error classes for a connection that is closed, closing or not answering. */
const NATS_UNAVAILABLE = new Set(['ClosedConnectionError', 'DrainingConnectionError', 'ConnectionError', 'NoRespondersError', 'TimeoutError', 'JetStreamNotEnabled']);

/** S3 error codes that mean "try later" (the object store is overloaded or restarting). */
const S3_TRY_LATER = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout']);

export function isInfrastructureFailure(error: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (candidate: unknown, depth: number): boolean => {
    if (!candidate || typeof candidate !== 'object' || seen.has(candidate) || depth > 6) return false;
    seen.add(candidate);
    const e = candidate as { name?: unknown; code?: unknown; status?: unknown; message?: unknown; cause?: unknown; errors?: unknown; driverError?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && (UNREACHABLE_ERRNO.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isTransientSqlState(code)) || S3_TRY_LATER.has(code))) return true;
    if (typeof e.name === 'string' && NATS_UNAVAILABLE.has(e.name)) return true;
    // A service the handler calls over request/reply that is down or slow (RpcError 503/504).
    if (e.name === 'RpcError' && (e.status === 503 || e.status === 504)) return true;
    if (typeof e.message === 'string' && CONNECTION_LOST.some((pattern) => pattern.test(e.message as string))) return true;
    if (visit(e.cause, depth + 1) || visit(e.driverError, depth + 1)) return true;
    return Array.isArray(e.errors) && e.errors.some((inner) => visit(inner, depth + 1));
  };
  return visit(error, 0);
}

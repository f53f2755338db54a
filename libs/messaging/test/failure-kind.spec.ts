import { describe, expect, it } from 'vitest';
import { isInfrastructureFailure, RpcError } from '../src/index.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
/** How TypeORM wraps a driver error: the SQLSTATE on the wrapper and on driverError. */
const queryFailed = (code: string) => Object.assign(new Error('query failed'), { name: 'QueryFailedError', driverError: withCode('driver', code) });

describe('isInfrastructureFailure', () => {
  it.each([
    ['connection refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['refused on every address (AggregateError)', new AggregateError([withCode('a', 'ECONNREFUSED'), withCode('b', 'ECONNREFUSED')], 'connect failed')],
    ['connection dropped mid-query', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['server shutting down (57P01)', queryFailed('57P01')],
    ['starting up (57P03)', queryFailed('57P03')],
    ['connection exception class 08', queryFailed('08006')],
    ['serialization failure', queryFailed('40001')],
    ['deadlock', queryFailed('40P01')],
    ['too many connections', queryFailed('53300')],
    ['NATS closed', Object.assign(new Error('closed'), { name: 'ClosedConnectionError' })],
    ['NATS request timeout', Object.assign(new Error('timeout'), { name: 'TimeoutError' })],
    ['a called service is down', new RpcError(503, 'service_unavailable', 'down')],
    ['a called service is slow', new RpcError(504, 'service_timeout', 'slow')],
    ['wrapped in a cause', new Error('purge failed', { cause: withCode('reset', 'ECONNRESET') })],
    ['object store busy', withCode('slow down', 'SlowDown')],
  ])('waits for: %s', (_name, error) => {
    expect(isInfrastructureFailure(error)).toBe(true);
  });

  it.each([
    ['a unique violation', queryFailed('23505')],
    ['a statement timeout (could be this message every time)', queryFailed('57014')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['an expected refusal from a called service', new RpcError(404, 'not_found', 'gone')],
    ['a missing object', withCode('no such key', 'NoSuchKey')],
    ['not an error at all', 'a string'],
    ['nothing', undefined],
  ])('counts as the handler’s own failure: %s', (_name, error) => {
    expect(isInfrastructureFailure(error)).toBe(false);
  });
});

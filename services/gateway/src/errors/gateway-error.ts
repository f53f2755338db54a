/** An error the gateway itself answers with (validation, auth, rate limit), in API.md's shape. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const GatewayErrors = {
  unauthorized: () => new GatewayError(401, 'unauthorized', 'a valid access token is required (Authorization: Bearer …)'),
  forbidden: () => new GatewayError(403, 'forbidden', 'this operation needs the operator role'),
  rateLimited: (retryAfterSeconds: number) => new GatewayError(429, 'rate_limited', `too many requests; retry in ${retryAfterSeconds} s`, retryAfterSeconds),
  notFound: () => new GatewayError(404, 'not_found', 'no such resource'),
};

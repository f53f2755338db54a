/**
 * What the `migrate` user provisions and what a service only verifies at boot.
 *
 * A service's NATS user may read its streams' and durables' info, pull and acknowledge its
 * own durables, and use its KV buckets — but not create or change a stream, a consumer or
 * a bucket: with those rights a compromised service could widen the event stream to
 * another user's inbox and read it through a durable of its own, shrink the stream to
 * drop unread events, or create a push consumer delivering into another service's RPC
 * queue group (libs/system-runner/src/nats-permissions.ts). So the operator's `migrate`
 * provisions them all, with the configurations built here, and a service checks at boot
 * that what it stands on is there and as expected. Against a server without users (the
 * test suite's shared NATS) a service may still create what is missing itself.
 */

/** The server refused a request for lack of permission (nats.js rejects the request with PermissionViolationError). */
export function isPermissionRefusal(error: unknown): boolean {
  return error instanceof Error && (error.name === 'PermissionViolationError' || /permissions? violation/i.test(error.message));
}

/** What a service needs and may not provision itself is missing or different: the operator runs migrate. */
export class NotProvisionedError extends Error {
  constructor(what: string, cause?: unknown) {
    super(`${what}; this service may not provision it: run migrate (npm run migrate / the compose migrate service) first`, { cause });
    this.name = 'NotProvisionedError';
  }
}

/** Runs `provision` (create/update), turning a permission refusal into a NotProvisionedError that says to run migrate. */
export async function provisionOrExplain<T>(what: string, provision: () => Promise<T>): Promise<T> {
  try {
    return await provision();
  } catch (error) {
    if (isPermissionRefusal(error)) throw new NotProvisionedError(what, error);
    throw error;
  }
}

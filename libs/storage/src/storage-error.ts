/**
 * What an S3 call failed with, reduced to the operation and the S3 or network error code.
 * The client's own errors carry the bucket, the key (which holds the owner's UUID, a
 * pseudonymous identifier) and request ids, and loggers print every property and `cause`
 * they find; so none of that is kept here, not even as a cause.
 */
export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly operation: string,
    readonly code: string,
  ) {
    super(`storage ${operation} failed: ${code}`);
  }
}

// Codes are short identifiers (NoSuchKey, ECONNREFUSED); anything else is not repeated.
const CODE = /^[A-Za-z0-9_.-]{1,64}$/;

export function toStorageError(operation: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CODE.test(code)) return new StorageError(operation, code);
  // The client reports exhausted retries only in its message: "... Retryable HTTP status: 500".
  const status = /Retryable HTTP status: (\d{3})/.exec(error instanceof Error ? error.message : '')?.[1];
  return new StorageError(operation, status === undefined ? 'Unknown' : `HTTP${status}`);
}

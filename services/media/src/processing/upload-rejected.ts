/**
 * A refusal the client is told about: `status` is the HTTP status, `code` a stable
 * machine-readable reason. The message names the problem and never echoes the file's
 * content or its metadata; `detail` is a short scrubbed line for logs only, never sent.
 */
export class UploadRejected extends Error {
  override readonly name = 'UploadRejected';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

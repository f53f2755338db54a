import { ErrorResponse, type HttpRoute } from '@homiwork/contracts';
import type { z } from 'zod';

/** The server answered with an error status; `code` is the stable part to branch on. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from `Retry-After`, when the server said when to come back. */
    readonly retryAfter?: number,
    /** The body as received, for diagnosing an answer that is not the standard shape. */
    readonly body?: unknown,
  ) {
    super(message);
  }

  static fromResponse(route: Pick<HttpRoute, 'method' | 'path'>, status: number, headers: Headers, body: unknown): ApiError {
    const retryAfter = parseRetryAfter(headers.get('retry-after'));
    const parsed = ErrorResponse.safeParse(body);
    // A proxy or a crashed handler may answer with HTML or nothing; the status still tells the caller something.
    if (!parsed.success) return new ApiError(status, `http_${status}`, `${route.method} ${route.path} answered ${status} without the standard error body`, retryAfter, body);
    return new ApiError(status, parsed.data.error.code, parsed.data.error.message, retryAfter, body);
  }
}

/**
 * The server answered in a way the contract does not allow (another success status, or a
 * body its schema rejects). Loud on purpose: a client that quietly accepted drift would
 * hide the very bug the shared route table exists to prevent.
 */
export class ApiContractError extends Error {
  override readonly name = 'ApiContractError';

  constructor(
    readonly route: Pick<HttpRoute, 'method' | 'path'>,
    readonly status: number,
    detail: string,
  ) {
    super(`${route.method} ${route.path} broke its contract: ${detail}`);
  }

  // Paths and rule codes only: response bodies carry personal data that must not reach logs.
  static fromIssues(route: Pick<HttpRoute, 'method' | 'path'>, status: number, issues: z.ZodError['issues']): ApiContractError {
    const detail = issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.code}`).join('; ');
    return new ApiContractError(route, status, `the response body does not match its schema (${detail})`);
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

import { z } from 'zod';

/**
 * One public HTTP route of the gateway, as data: the gateway serves it, the OpenAPI
 * document describes it and the typed client calls it — all from this one definition,
 * so the three cannot disagree with each other (or with docs/api.md, the contract, which a test
 * checks against the table).
 */
export interface HttpRoute<Body extends z.ZodType | undefined = z.ZodType | undefined, Response extends z.ZodType | undefined = z.ZodType | undefined> {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Fastify-style path: `/v1/uploads/:id`. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** Who may call it; `public` routes are the only ones the auth guard lets through without a token. */
  readonly auth: 'public' | 'user' | 'operator';
  /** Which rate-limit policy applies (see the gateway's rate-limit table). */
  readonly rateLimit: 'auth' | 'read' | 'write' | 'generation';
  readonly body: Body;
  /** For multipart uploads: the form field carrying the file (the body is then not JSON). */
  readonly multipartField?: string;
  /**
   * A body that is not parsed JSON: `form` is an HTML form's post
   * (application/x-www-form-urlencoded, accepted on these routes only), `raw` is JSON passed
   * on as the exact text received (a signed webhook: the signature covers the bytes).
   */
  readonly bodyFormat?: 'form' | 'raw';
  readonly successStatus: 200 | 201 | 202 | 204;
  /** Absent for 204. */
  readonly response: Response;
  /** The success body is a file, not JSON. */
  readonly binaryResponse?: boolean;
  /** The success body is an HTML page (the `local` payment processor's checkout). */
  readonly htmlResponse?: boolean;
  /** Documented error answers: status and code. */
  readonly errors: ReadonlyArray<readonly [number, string]>;
}

export function defineHttpRoute<Body extends z.ZodType | undefined, Response extends z.ZodType | undefined>(route: HttpRoute<Body, Response>): HttpRoute<Body, Response> {
  if (!route.path.startsWith('/')) throw new Error(`route path must start with /: ${route.path}`);
  if ((route.successStatus === 204) !== (route.response === undefined)) throw new Error(`${route.method} ${route.path}: a 204 route has no response body, others have one`);
  return route;
}

export type HttpBody<R extends HttpRoute> = R['body'] extends z.ZodType ? z.input<R['body']> : undefined;
export type HttpResponse<R extends HttpRoute> = R['response'] extends z.ZodType ? z.output<R['response']> : undefined;

/** The error body of every failed call (API.md conventions). */
export const ErrorResponse = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string() }),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

export const COMMON_ERRORS = {
  validation: [400, 'validation_failed'],
  invalidJson: [400, 'invalid_json'],
  unauthorized: [401, 'unauthorized'],
  forbidden: [403, 'forbidden'],
  notFound: [404, 'not_found'],
  tooLarge: [413, 'payload_too_large'],
  rateLimited: [429, 'rate_limited'],
  unavailable: [503, 'service_unavailable'],
} as const satisfies Record<string, readonly [number, string]>;

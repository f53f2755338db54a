import type { HttpBody, HttpResponse, HttpRoute } from '@homiwork/contracts';
import { AccountsApi } from './accounts-api.js';
import { ApiContractError, ApiError } from './api-error.js';
import { requestUrl } from './request-url.js';

export interface ApiClientOptions {
  /** Where the gateway answers, e.g. `http://localhost:3000`; a path prefix is kept. */
  baseUrl: string;
  accessToken?: string;
  fetch?: typeof fetch;
  /** Sent with every request (a test's user agent, say). */
  headers?: Record<string, string>;
}

export interface CallInput<R extends HttpRoute> {
  body?: HttpBody<R>;
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
}

/** Unchecked on purpose: tests use it to send what the typed `call` would not let through. */
export interface RawInput {
  body?: unknown;
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Calls the gateway through the shared route table, so a route's types and its wire format are one definition. */
export class ApiClient {
  readonly accounts: AccountsApi;

  constructor(private readonly options: ApiClientOptions) {
    this.accounts = new AccountsApi(this);
  }

  withToken(token: string): ApiClient {
    return new ApiClient({ ...this.options, accessToken: token });
  }

  /** The parsed success body; throws `ApiError` on an error status and `ApiContractError` when the answer breaks the contract. */
  async call<R extends HttpRoute>(route: R, input: CallInput<R> = {}): Promise<HttpResponse<R>> {
    const answer = await this.raw(route, input);
    if (answer.status >= 400) throw ApiError.fromResponse(route, answer.status, answer.headers, answer.body);
    if (answer.status !== route.successStatus) throw new ApiContractError(route, answer.status, `expected status ${route.successStatus}, got ${answer.status}`);
    if (!route.response) return undefined as HttpResponse<R>;
    const parsed = route.response.safeParse(answer.body);
    if (!parsed.success) throw ApiContractError.fromIssues(route, answer.status, parsed.error.issues);
    return parsed.data as HttpResponse<R>;
  }

  async raw(route: Pick<HttpRoute, 'method' | 'path' | 'auth'>, input: RawInput = {}): Promise<RawResponse> {
    const url = requestUrl(this.options.baseUrl, route.path, input.params, input.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers };
    if (input.body !== undefined) headers['content-type'] = 'application/json';
    // Public routes go without the token: a stale one must not turn a login into a 401.
    if (this.options.accessToken !== undefined && route.auth !== 'public') headers.authorization = `Bearer ${this.options.accessToken}`;
    const doFetch = this.options.fetch ?? fetch;
    const response = await doFetch(url, {
      method: route.method,
      headers,
      ...(input.body !== undefined ? { body: JSON.stringify(input.body) } : {}),
    });
    return { status: response.status, headers: response.headers, body: await readBody(response) };
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  if (!(response.headers.get('content-type') ?? '').includes('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Left as text: the caller's schema check then reports the drift with the status.
    return text;
  }
}

import type { HttpBody, HttpResponse, HttpRoute } from '@homiwork/contracts';
import { AccountsApi } from './accounts-api.js';
import { ApiContractError, ApiError } from './api-error.js';
import { AssistantsApi } from './assistants-api.js';
import { BillingApi } from './billing-api.js';
import { ContentsApi, GenerationsApi } from './generations-api.js';
import { OperatorsApi, PrivacyApi } from './privacy-api.js';
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
  /** Sent with this request only (a webhook's signature header, say). */
  headers?: Record<string, string>;
}

/**
 * Unchecked on purpose: tests use it to send what the typed `call` would not let through.
 * The body goes as the route's `bodyFormat` says: JSON by default, a form post for `form`,
 * and for `raw` the given string exactly as it is (as application/json).
 */
export interface RawInput {
  body?: unknown;
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** A file route's answer: its bytes and what the server said they are. */
export interface Download {
  bytes: Uint8Array;
  contentType: string;
}

type RouteShape = Pick<HttpRoute, 'method' | 'path' | 'auth'> & Partial<Pick<HttpRoute, 'bodyFormat'>>;

/** Calls the gateway through the shared route table, so a route's types and its wire format are one definition. */
export class ApiClient {
  readonly accounts: AccountsApi;
  readonly generations: GenerationsApi;
  readonly contents: ContentsApi;
  readonly assistants: AssistantsApi;
  readonly billing: BillingApi;
  readonly privacy: PrivacyApi;
  readonly operators: OperatorsApi;

  constructor(private readonly options: ApiClientOptions) {
    this.accounts = new AccountsApi(this);
    this.generations = new GenerationsApi(this);
    this.contents = new ContentsApi(this);
    this.assistants = new AssistantsApi(this);
    this.billing = new BillingApi(this);
    this.privacy = new PrivacyApi(this);
    this.operators = new OperatorsApi(this);
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

  async raw(route: RouteShape, input: RawInput = {}): Promise<RawResponse> {
    const response = await this.send(route, input);
    return { status: response.status, headers: response.headers, body: await readBody(response) };
  }

  /** A file route's bytes (`binaryResponse`); throws `ApiError` on an error status, as `call` does. */
  async download<R extends HttpRoute>(route: R, input: CallInput<R> = {}): Promise<Download> {
    const response = await this.send(route, input);
    if (response.status >= 400) throw ApiError.fromResponse(route, response.status, response.headers, await readBody(response));
    if (response.status !== route.successStatus) throw new ApiContractError(route, response.status, `expected status ${route.successStatus}, got ${response.status}`);
    return { bytes: new Uint8Array(await response.arrayBuffer()), contentType: response.headers.get('content-type') ?? '' };
  }

  /** Where a route redirects to (a 302's Location), without following it. */
  async location<R extends HttpRoute>(route: R, input: CallInput<R> = {}): Promise<string> {
    const response = await this.send(route, input, 'manual');
    if (response.status >= 400) throw ApiError.fromResponse(route, response.status, response.headers, await readBody(response));
    const location = response.headers.get('location');
    await response.body?.cancel();
    if (response.status !== 302 || !location) throw new ApiContractError(route, response.status, `expected a 302 with a Location, got ${response.status}`);
    return location;
  }

  private async send(route: RouteShape, input: RawInput, redirect: 'follow' | 'manual' = 'follow'): Promise<Response> {
    const url = requestUrl(this.options.baseUrl, route.path, input.params, input.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers };
    // Public routes go without the token: a stale one must not turn a login into a 401.
    if (this.options.accessToken !== undefined && route.auth !== 'public') headers.authorization = `Bearer ${this.options.accessToken}`;
    const body = input.body === undefined ? undefined : encodeBody(route.bodyFormat, input.body);
    if (body) headers['content-type'] = body.contentType;
    Object.assign(headers, input.headers);
    const doFetch = this.options.fetch ?? fetch;
    return doFetch(url, { method: route.method, headers, redirect, ...(body ? { body: body.text } : {}) });
  }
}

function encodeBody(format: HttpRoute['bodyFormat'], body: unknown): { contentType: string; text: string } {
  if (format === 'form') {
    const fields = Object.entries(body as Record<string, unknown>).map(([key, value]): [string, string] => [key, String(value)]);
    return { contentType: 'application/x-www-form-urlencoded', text: new URLSearchParams(fields).toString() };
  }
  if (format === 'raw') {
    if (typeof body !== 'string') throw new TypeError('a raw body is sent exactly as given: pass it as a string');
    return { contentType: 'application/json', text: body };
  }
  return { contentType: 'application/json', text: JSON.stringify(body) };
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

import { randomUUID } from 'node:crypto';
import { ErrorResponse, type HttpRoute } from '@homiwork/contracts';
import { exampleOf, type ExampleHints } from './schema-example.js';

/** A request a route would accept from its owner: path parameters and a body (JSON or one multipart file). */
export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly file?: { readonly bytes: string; readonly name: string; readonly type: string };
}

export interface RouteAnswer {
  status: number;
  contentType: string;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** `:id`, `:assistantId`, … in path order. */
export const pathParams = (path: string): string[] => [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1]!);

/** `Route GET /v1/uploads/:id`: how a test names a route. */
export const routeName = (route: Pick<HttpRoute, 'method' | 'path'>): string => `${route.method} ${route.path}`;

/**
 * A minimal valid request for the route, from its schemas: the body from `exampleOf`
 * (hints give values the account really has, like its password), a multipart route a
 * small UTF-8 text file (every upload kind accepts one), path parameters as given.
 * `marker` is written into files so a leak of the owner's content can be searched for.
 */
export function exampleRequest(route: HttpRoute, params: Record<string, string>, hints: ExampleHints, marker = `route-table example ${randomUUID()}`): RouteRequest {
  const missing = pathParams(route.path).filter((name) => params[name] === undefined);
  if (missing.length > 0) throw new Error(`${routeName(route)}: no value for path parameter ${missing.join(', ')}`);
  if (route.multipartField !== undefined) return { params, file: { bytes: `${marker}\n`, name: 'note.txt', type: 'text/plain' } };
  if (route.body === undefined) return { params };
  return { params, body: exampleOf(route.body, hints, `${routeName(route)} body`) };
}

/**
 * Sends the request with exactly the Authorization header given (or none): the typed
 * client always writes `Bearer <token>`, and the attacks need malformed headers too.
 */
export async function sendRoute(baseUrl: string, route: HttpRoute, request: RouteRequest, authorization: string | undefined): Promise<RouteAnswer> {
  const path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => encodeURIComponent(request.params[name]!));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  let body: string | FormData | undefined;
  if (request.file !== undefined) {
    const form = new FormData();
    form.append(route.multipartField!, new Blob([request.file.bytes], { type: request.file.type }), request.file.name);
    body = form;
  } else if (request.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(request.body);
  }
  const response = await fetch(new URL(path, baseUrl), { method: route.method, headers, ...(body !== undefined ? { body } : {}) });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  let json: unknown;
  if (contentType.includes('json')) {
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, contentType, text, json };
}

/** The error code when the answer has exactly API.md's error shape `{error: {code, message}}`, else a description of what came instead. */
export function errorCodeOf(answer: RouteAnswer): string {
  const parsed = ErrorResponse.safeParse(answer.json);
  if (!parsed.success) return `(not API.md's error shape: ${answer.contentType} ${answer.text.slice(0, 120)})`;
  return parsed.data.error.code;
}

/** The created resource's id, from a creating route's answer. */
export function createdId(route: HttpRoute, answer: RouteAnswer): string {
  const id = (answer.json as { id?: unknown } | undefined)?.id;
  if (answer.status !== route.successStatus || typeof id !== 'string') throw new Error(`${routeName(route)} did not create a resource: ${answer.status} ${answer.text.slice(0, 200)}`);
  return id;
}

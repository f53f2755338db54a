import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineHttpRoute, Register } from '@homiwork/contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiClient, ApiContractError, ApiError } from './index.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The body's exact text, whatever its type. */
  raw: string;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string>; text?: string; bytes?: Buffer };

const USER_ID = '5b0c1b6e-3f0a-4b8e-9d6c-2a1f4e7c9b10';
const CREATED_AT = '2025-01-02T03:04:05.000Z';
const TOKEN = 'a'.repeat(32);
const CONTENT_ID = '7d3f2a10-6b1c-4e2f-9a8b-0c1d2e3f4a5b';
const ORDER_ID = '9e8d7c6b-5a49-4837-a261-504f3e2d1c0b';
// Not valid UTF-8: a client that read the file as text would change it.
const FILE_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x80]);

// A stand-in gateway: real HTTP on a real port, answering the way each test needs.
function answer(method: string, url: string, body: unknown): Answer {
  const path = url.split('?')[0]!;
  const route = `${method} ${path}`;
  if (route === 'POST /v1/auth/register') {
    const { email, username } = body as { email: string; username: string };
    if (username === 'taken') return { status: 409, body: { error: { code: 'username_taken', message: 'that username is taken' } } };
    return { status: 201, body: { user: { id: USER_ID, email, username, createdAt: CREATED_AT } } };
  }
  if (route === 'POST /v1/auth/login') return { status: 429, headers: { 'retry-after': '7' }, body: { error: { code: 'rate_limited', message: 'slow down' } } };
  if (route === 'POST /v1/auth/refresh') return { status: 200, body: { accessToken: 'access', refreshToken: TOKEN, expiresIn: 900 } };
  if (route === 'POST /v1/auth/logout') return { status: 204 };
  if (route === 'POST /v1/auth/password-reset') return { status: 202, body: {} };
  // Drifted: the id is not a UUID and `energy` is gone.
  if (route === 'GET /v1/me') return { status: 200, body: { id: 'alice-1', email: 'alice@example.com', username: 'alice', createdAt: CREATED_AT, prime: { active: false, expiresAt: null } } };
  if (route === 'PATCH /v1/me') return { status: 502, headers: { 'content-type': 'text/html' }, text: '<html>Bad Gateway</html>' };
  if (route === 'DELETE /v1/me') return { status: 200, body: { erasureId: USER_ID } };
  if (path.startsWith('/v1/things/')) return { status: 200, body: { url } };
  if (route === `GET /v1/contents/${CONTENT_ID}/file` && url.endsWith('?redirect=true')) return { status: 302, headers: { location: 'http://127.0.0.1:1/never-followed' } };
  if (route === `GET /v1/contents/${CONTENT_ID}/file`) return { status: 200, headers: { 'content-type': 'image/png' }, bytes: FILE_BYTES };
  if (route === `GET /v1/contents/${USER_ID}/file`) return { status: 404, body: { error: { code: 'not_found', message: 'no such resource' } } };
  if (route === 'GET /v1/contents') return { status: 200, body: { items: [] } };
  if (route === `POST /v1/billing/checkout/${ORDER_ID}`) return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, text: '<h1>Payment confirmed</h1>' };
  if (route === 'POST /v1/billing/webhooks/local') return { status: 200, body: { received: true } };
  if (route === 'GET /v1/assistants') return { status: 200, body: { items: [{ id: 'poem-helper', name: 'Poem helper', description: 'Writes poems with you' }] } };
  if (route === 'POST /v1/assistants/poem-helper/messages') {
    const { text } = body as { text: string };
    const message = (id: string, role: string, said: string) => ({ id, role, text: said, status: 'answered', createdAt: CREATED_AT });
    return { status: 201, body: { message: message(CONTENT_ID, 'user', text), reply: message(ORDER_ID, 'assistant', `re: ${text}`) } };
  }
  if (route === 'GET /v1/assistants/poem-helper/messages') return { status: 200, body: { items: [{ id: CONTENT_ID, role: 'user', text: 'hi', status: 'unanswered', createdAt: CREATED_AT }] } };
  if (route === 'DELETE /v1/assistants/poem-helper/messages') return { status: 204 };
  return { status: 404, body: { error: { code: 'not_found', message: 'no such route' } } };
}

let server: Server;
let baseUrl: string;
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const json = (req.headers['content-type'] ?? '').includes('json');
      let body: unknown;
      try {
        body = raw === '' ? undefined : json ? JSON.parse(raw) : raw;
      } catch {
        body = raw;
      }
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, raw });
      const reply = answer(req.method!, req.url!, body);
      const payload = reply.bytes ?? reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  seen = [];
});

const registration = { email: 'alice@example.com', username: 'alice', password: 'correct horse battery', ageConfirmed: true } as const;

describe('ApiClient', () => {
  it('sends JSON and returns the parsed success body', async () => {
    const client = new ApiClient({ baseUrl });
    await expect(client.call(Register, { body: registration })).resolves.toEqual({ user: { id: USER_ID, email: 'alice@example.com', username: 'alice', createdAt: CREATED_AT } });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/auth/register', body: registration });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('throws ApiError with the code and message of the error body', async () => {
    const error = await new ApiClient({ baseUrl }).accounts.register({ ...registration, username: 'taken' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'username_taken', message: 'that username is taken', retryAfter: undefined });
  });

  it('reads Retry-After into retryAfter', async () => {
    const error = await new ApiClient({ baseUrl }).accounts.login({ login: 'alice', password: 'whatever1' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 7 });
  });

  it('falls back to http_<status> when the error body is not the standard shape', async () => {
    const error = await new ApiClient({ baseUrl, accessToken: 't' }).accounts.updateMe({ username: 'bob' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, code: 'http_502', body: '<html>Bad Gateway</html>' });
  });

  it('fails loudly, naming fields but not values, when the response drifts from the schema', async () => {
    const error = await new ApiClient({ baseUrl, accessToken: 't' }).accounts.me().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiContractError);
    const message = (error as Error).message;
    expect(message).toMatch(/GET \/v1\/me broke its contract/);
    expect(message).toMatch(/id: invalid_format/);
    expect(message).toMatch(/energy: invalid_type/);
    expect(message).not.toContain('alice');
  });

  it('treats another success status than the contract’s as drift', async () => {
    await expect(new ApiClient({ baseUrl, accessToken: 't' }).accounts.deleteMe('whatever1')).rejects.toThrow(/expected status 202, got 200/);
    expect(seen[0]).toMatchObject({ method: 'DELETE', url: '/v1/me', body: { password: 'whatever1' } });
  });

  it('returns nothing for 204 and the typed body otherwise', async () => {
    const client = new ApiClient({ baseUrl });
    await expect(client.accounts.logout(TOKEN)).resolves.toBeUndefined();
    await expect(client.accounts.requestPasswordReset('alice@example.com')).resolves.toBeUndefined();
    await expect(client.accounts.refresh(TOKEN)).resolves.toEqual({ accessToken: 'access', refreshToken: TOKEN, expiresIn: 900 });
    expect(seen.map((request) => request.body)).toEqual([{ refreshToken: TOKEN }, { email: 'alice@example.com' }, { refreshToken: TOKEN }]);
  });

  it('sends the bearer token to authenticated routes only', async () => {
    const client = new ApiClient({ baseUrl }).withToken('token-1');
    await client.accounts.me().catch(() => undefined);
    await client.accounts.register(registration);
    expect(seen[0]!.headers.authorization).toBe('Bearer token-1');
    expect(seen[1]!.headers.authorization).toBeUndefined();
  });

  it('uses the given fetch and headers', async () => {
    const urls: string[] = [];
    const counting: typeof fetch = (url, init) => {
      urls.push(url instanceof Request ? url.url : url.toString());
      return fetch(url, init);
    };
    await new ApiClient({ baseUrl, fetch: counting, headers: { 'user-agent': 'api-client-test' } }).accounts.logout(TOKEN);
    expect(urls).toEqual([`${baseUrl}v1/auth/logout`]);
    expect(seen[0]!.headers['user-agent']).toBe('api-client-test');
  });

  describe('path parameters', () => {
    const Part = defineHttpRoute({
      method: 'GET',
      path: '/v1/things/:thingId/parts/:part',
      summary: 'A route that exists only in this test',
      tag: 'test',
      auth: 'user',
      rateLimit: 'read',
      body: undefined,
      successStatus: 200,
      response: z.strictObject({ url: z.string() }),
      errors: [],
    });

    it('fills them encoded and appends the defined query values', async () => {
      const result = await new ApiClient({ baseUrl }).call(Part, { params: { thingId: 'a b/c', part: 'ü?' }, query: { q: 'x y', skipped: undefined } });
      expect(result.url).toBe('/v1/things/a%20b%2Fc/parts/%C3%BC%3F?q=x+y');
    });

    it('refuses a missing or unknown parameter before sending anything', async () => {
      const client = new ApiClient({ baseUrl });
      await expect(client.call(Part, { params: { thingId: '1' } })).rejects.toThrow(/path parameter "part" is missing/);
      await expect(client.call(Part, { params: { thingId: '1', part: '2', extra: '3' } })).rejects.toThrow(/no path parameter named "extra"/);
      expect(seen).toEqual([]);
    });
  });

  describe('generation, content and billing routes', () => {
    it('downloads a file as bytes, unchanged, with its type', async () => {
      const file = await new ApiClient({ baseUrl, accessToken: 't' }).contents.file(CONTENT_ID);
      expect(Buffer.from(file.bytes).equals(FILE_BYTES)).toBe(true);
      expect(file.contentType).toBe('image/png');
      const missing = await new ApiClient({ baseUrl, accessToken: 't' }).contents.file(USER_ID).catch((caught: unknown) => caught);
      expect(missing).toMatchObject({ status: 404, code: 'not_found' });
    });

    it('reads the signed URL from the redirect without following it', async () => {
      await expect(new ApiClient({ baseUrl, accessToken: 't' }).contents.signedUrl(CONTENT_ID)).resolves.toBe('http://127.0.0.1:1/never-followed');
      expect(seen.map((request) => request.url)).toEqual([`/v1/contents/${CONTENT_ID}/file?redirect=true`]);
    });

    it('asks for the trash with ?deleted=true and for live content without the parameter', async () => {
      const client = new ApiClient({ baseUrl, accessToken: 't' });
      await client.contents.list({ deleted: true });
      await client.contents.list();
      expect(seen.map((request) => request.url)).toEqual(['/v1/contents?deleted=true', '/v1/contents']);
    });

    it('posts the checkout button as a form and returns the HTML page', async () => {
      const page = await new ApiClient({ baseUrl, accessToken: 't' }).billing.completeCheckout(ORDER_ID, 'confirm');
      expect(page).toBe('<h1>Payment confirmed</h1>');
      expect(seen[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(seen[0]!.raw).toBe('action=confirm');
      expect(seen[0]!.headers.authorization).toBeUndefined();
    });

    it('sends a webhook body byte for byte with its signature header, and no token', async () => {
      const body = '{ "id" : "evt_1",\n "amount": 499.0 }';
      await expect(new ApiClient({ baseUrl, accessToken: 't' }).billing.webhook('local', body, 't=1,v1=ab')).resolves.toEqual({ received: true });
      expect(seen[0]!.raw).toBe(body);
      expect(seen[0]!.headers['content-type']).toBe('application/json');
      expect(seen[0]!.headers['processor-signature']).toBe('t=1,v1=ab');
      expect(seen[0]!.headers.authorization).toBeUndefined();
    });
  });

  describe('assistant routes', () => {
    it('lists assistants, sends a message as {text}, reads and clears the conversation', async () => {
      const assistants = new ApiClient({ baseUrl, accessToken: 't' }).assistants;
      await expect(assistants.list()).resolves.toEqual({ items: [{ id: 'poem-helper', name: 'Poem helper', description: 'Writes poems with you' }] });
      const sent = await assistants.send('poem-helper', 'a poem about rain');
      expect([sent.message.role, sent.message.text, sent.reply.role, sent.reply.text]).toEqual(['user', 'a poem about rain', 'assistant', 're: a poem about rain']);
      await expect(assistants.messages('poem-helper')).resolves.toMatchObject({ items: [{ status: 'unanswered' }] });
      await expect(assistants.clear('poem-helper')).resolves.toBeUndefined();
      expect(seen.map((request) => [request.method, request.url, request.body])).toEqual([
        ['GET', '/v1/assistants', undefined],
        ['POST', '/v1/assistants/poem-helper/messages', { text: 'a poem about rain' }],
        ['GET', '/v1/assistants/poem-helper/messages', undefined],
        ['DELETE', '/v1/assistants/poem-helper/messages', undefined],
      ]);
      expect(seen.every((request) => request.headers.authorization === 'Bearer t')).toBe(true);
    });

    it('encodes the assistant id into the path, so it cannot reach another route', async () => {
      const error = await new ApiClient({ baseUrl, accessToken: 't' }).assistants.messages('../../me').catch((caught: unknown) => caught);
      expect(error).toMatchObject({ status: 404 });
      expect(seen.map((request) => request.url)).toEqual(['/v1/assistants/..%2F..%2Fme/messages']);
    });
  });

  it('gives raw access to status, headers and body without checking them', async () => {
    const answer = await new ApiClient({ baseUrl }).raw(Register, { body: { ...registration, ageConfirmed: false, username: 'taken' } });
    expect(answer.status).toBe(409);
    expect(answer.headers.get('content-type')).toContain('application/json');
    expect(answer.body).toEqual({ error: { code: 'username_taken', message: 'that username is taken' } });
  });
});

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AccessTokenIssuer } from '@homiwork/auth';
import { SystemClock } from '@homiwork/clock';
import { BillingRpc, GenerationRpc, type CallerContext, type RpcRoute } from '@homiwork/contracts';
import { MessagingMetrics, RpcError, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import type { StartedService } from '@homiwork/service-kit';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { gatewayConfigSchema } from '../src/config.js';
import { RAW_BODY_MAX_BYTES } from '../src/edge/body-parsers.js';
import { startGateway } from '../src/start-gateway.js';

/*
 * The gateway's generation and billing routes over real HTTP, NATS and JetStream. The
 * generation and billing services are stood in for by RPC responders on the real bus (the
 * services are written alongside; the end-to-end suite runs the real ones), and the object
 * store by a local HTTP server that serves "signed URLs". Every log line the gateway writes
 * is kept, to show what never appears in one.
 */

type Handler = (request: unknown, caller: CallerContext) => unknown;
interface Call {
  method: string;
  request: unknown;
  caller: CallerContext;
}

const CARD_NUMBER = '4242424242424242';
const USER_ID = randomUUID();
const ORDER_ID = randomUUID();
const CONTENT_ID = randomUUID();
const FILE_BYTES = Buffer.from('a generated greeting, byte for byte\n', 'utf8');

let nc: NatsConnection;
let gateway: StartedService;
let baseUrl: string;
let token: string;
let store: Server;
let storeUrl: string;
const logLines: string[] = [];
const calls: Call[] = [];
const handlers = new Map<string, Handler>();
const responders: RpcServer[] = [];

/** The stand-in's answer to a route: whatever the test set, else a fixed valid one. */
function serve(server: RpcServer, route: RpcRoute, fallback: Handler): void {
  server.serve(route, async (request, caller) => {
    calls.push({ method: route.method, request, caller });
    return await (handlers.get(route.method) ?? fallback)(request, caller);
  });
}

const callsOf = (method: string) => calls.filter((call) => call.method === method);
const api = (path: string, init: RequestInit = {}) => fetch(`${baseUrl}${path}`, init);
const withToken = (init: RequestInit = {}): RequestInit => ({ ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

beforeAll(async () => {
  const namespace = createTestNamespace();
  nc = await connect({ servers: TEST_NATS_URL });
  const keys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const config = gatewayConfigSchema.parse({
    NODE_ENV: 'test',
    LOG_LEVEL: 'trace',
    HTTP_PORT: '0',
    OPS_PORT: '0',
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(8 * 1024 * 1024),
    IP_HASH_SALT: randomBytes(32).toString('hex'),
    JWT_PUBLIC_KEY: keys.publicKey,
    INTERNAL_API_TOKEN: randomBytes(32).toString('hex'),
    // Larger than a webhook may be: the webhook's own limit must hold regardless.
    BODY_LIMIT_BYTES: String(1024 * 1024),
    RPC_TIMEOUT_MS: '2000',
    LOCAL_CHECKOUT_PAGE: 'enabled',
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  gateway = await startGateway(config, { logger: createLogger({ service: 'gateway', level: 'trace', destination: sink }) });
  baseUrl = gateway.url;
  token = await (await AccessTokenIssuer.fromPem(keys.privateKey, { keyId: 'test', ttlSeconds: 300, clock: new SystemClock() })).issue({ userId: USER_ID, sessionId: randomUUID(), role: 'user' });

  const standInLogger = createLogger({ service: 'stand-in', level: 'silent' });
  const billing = new RpcServer(nc, namespace, 'billing', standInLogger, new MessagingMetrics(new ServiceMetrics('billing-stand-in')));
  const generation = new RpcServer(nc, namespace, 'generation', standInLogger, new MessagingMetrics(new ServiceMetrics('generation-stand-in')));
  responders.push(billing, generation);
  serve(billing, BillingRpc.ReceiveWebhookRoute, () => ({ received: true }));
  serve(billing, BillingRpc.GetCheckoutRoute, () => ({ orderId: ORDER_ID, productName: 'Energy 100', amount: 499, currency: 'EUR', status: 'pending' }));
  serve(billing, BillingRpc.CompleteCheckoutRoute, (request) => ({ orderId: ORDER_ID, status: (request as { action: string }).action === 'confirm' ? 'paid' : 'cancelled' }));
  serve(billing, BillingRpc.GetBalanceRoute, () => ({ energy: 42 }));
  serve(generation, GenerationRpc.CreateGenerationRoute, () => ({ id: randomUUID(), status: 'queued', cost: 2 }));
  serve(generation, GenerationRpc.ListContentsRoute, () => ({ items: [] }));
  serve(generation, GenerationRpc.GetContentFileRoute, () => ({ url: `${storeUrl}/objects/present`, mimeType: 'text/plain; charset=utf-8', bytes: FILE_BYTES.length, expiresAt: new Date(Date.now() + 60_000).toISOString() }));
  serve(generation, GenerationRpc.DeleteContentRoute, () => ({}));
  serve(generation, GenerationRpc.RestoreContentRoute, () => ({ id: CONTENT_ID, kind: 'text', mimeType: 'text/plain', bytes: 1, createdAt: new Date().toISOString(), expiresAt: null, deletedAt: null }));

  store = createServer((request, response) => {
    if (request.url === '/objects/present') {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(FILE_BYTES.length) });
      response.end(FILE_BYTES);
    } else if (request.url === '/objects/elsewhere') {
      response.writeHead(302, { location: `${storeUrl}/objects/present` });
      response.end();
    } else if (request.url === '/objects/broken') {
      response.writeHead(500);
      response.end('store failure');
    } else {
      response.writeHead(404);
      response.end('NoSuchKey');
    }
  });
  await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
  storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await Promise.all(responders.map((responder) => responder.stop()));
  await gateway?.close();
  await nc?.close();
  await new Promise((resolve) => store?.close(resolve));
});

beforeEach(() => {
  calls.length = 0;
  handlers.clear();
});

describe('POST /v1/billing/webhooks/:provider', () => {
  const post = (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, provider = 'local') =>
    api(`/v1/billing/webhooks/${provider}`, { method: 'POST', headers, body });

  it('hands billing the exact body text and the signature header, without a token', async () => {
    // Spacing, key order, escapes and non-ASCII that any parse-and-serialize would change.
    const body = '{ "type":"payment.succeeded",\n  "id" : "evt_1", "amount": 499.0, "note": "caf\\u00e9 — ünïcode", "z": 1, "a": [ ] }\r\n';
    const response = await post(body, { 'content-type': 'application/json; charset=utf-8', 'processor-signature': 't=1700000000,v1=abc123' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
    const [call] = callsOf('webhooks.receive');
    expect(call!.request).toEqual({ provider: 'local', signature: 't=1700000000,v1=abc123', body });
    expect(call!.caller.userId).toBeUndefined();
  });

  it('passes a body that is not JSON unchanged too (billing decides it is invalid)', async () => {
    const response = await post('not json {', { 'content-type': 'application/json' });
    expect(response.status).toBe(200);
    expect(callsOf('webhooks.receive')[0]!.request).toEqual({ provider: 'local', body: 'not json {' });
  });

  it('refuses a body over 64 KiB with 413 before billing hears of it, though other routes take more', async () => {
    const padding = 'x'.repeat(RAW_BODY_MAX_BYTES);
    const response = await post(`{"padding":"${padding}"}`);
    expect(response.status).toBe(413);
    expect((await errorCode(response)).code).toBe('payload_too_large');
    const exactly = `"${'x'.repeat(RAW_BODY_MAX_BYTES - 2)}"`;
    expect((await post(exactly)).status).toBe(200);
    expect(callsOf('webhooks.receive').map((call) => (call.request as { body: string }).body.length)).toEqual([RAW_BODY_MAX_BYTES]);
  });

  it('answers 404 for a provider name that cannot exist without asking billing, and passes billing’s 404 for an unknown one', async () => {
    expect((await post('{}', undefined, 'NOT_A_PROVIDER')).status).toBe(404);
    expect((await post('{}', undefined, `p${'a'.repeat(40)}`)).status).toBe(404);
    expect(callsOf('webhooks.receive')).toHaveLength(0);
    handlers.set('webhooks.receive', () => Promise.reject(new RpcError(404, 'not_found', 'no such payment processor')));
    const unknown = await post('{}', undefined, 'acme');
    expect(unknown.status).toBe(404);
    expect(callsOf('webhooks.receive')).toHaveLength(1);
  });

  it('refuses a form post or a body-less request as the wrong media type, and an over-long signature as invalid', async () => {
    expect((await post('id=evt_1', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await api('/v1/billing/webhooks/local', { method: 'POST' })).status).toBe(415);
    const longSignature = await post('{}', { 'content-type': 'application/json', 'processor-signature': 'v'.repeat(513) });
    expect(longSignature.status).toBe(401);
    expect((await errorCode(longSignature)).code).toBe('invalid_signature');
    expect(callsOf('webhooks.receive')).toHaveLength(0);
  });

  it('writes a body with card data into no log line — not when billing refuses it, not when billing fails', async () => {
    const linesBefore = logLines.length;
    const body = JSON.stringify({ id: 'evt_card', card: { number: '4242 4242 4242 4242', cvv: '123' }, pan: CARD_NUMBER });
    handlers.set('webhooks.receive', () => Promise.reject(new RpcError(422, 'card_data_refused', 'the payload carries card data; it was not stored')));
    const refused = await post(body, { 'content-type': 'application/json', 'processor-signature': `t=1,v1=${CARD_NUMBER}` });
    expect(refused.status).toBe(422);
    handlers.set('webhooks.receive', () => Promise.reject(new Error(`exploded on ${body}`)));
    const failed = await post(body);
    expect(failed.status).toBe(500);
    handlers.set('webhooks.receive', () => new Promise(() => undefined));
    const timedOut = await post(body);
    expect(timedOut.status).toBe(504);
    // Lines were written for these requests (the log is not simply empty)…
    const written = logLines.slice(linesBefore).join('\n');
    expect(written).toContain('request failed');
    // …and none of them carries the number, in any spacing, or the CVV field.
    expect(written.replace(/[\s-]/g, '')).not.toContain(CARD_NUMBER);
    expect(written).not.toContain('cvv');
  });
});

describe('the local checkout page', () => {
  it('shows the order with every value escaped, under a policy that lets its forms post to this origin only', async () => {
    handlers.set('checkout.get', () => ({ orderId: ORDER_ID, productName: 'Pack <script>alert("x")</script> & "more"', amount: 499, currency: 'EUR', status: 'pending' }));
    const response = await api(`/v1/billing/checkout/${ORDER_ID}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('script-src');
    const html = await response.text();
    expect(html).toContain('Pack &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;more&quot;');
    expect(html).not.toContain('<script');
    expect(html).toContain('€4.99');
    expect(html).toMatch(/<form method="post"><button type="submit" name="action" value="confirm">/);
    expect(html).toMatch(/<form method="post"><button type="submit" name="action" value="cancel">/);
    expect(callsOf('checkout.get')[0]!.request).toEqual({ orderId: ORDER_ID });
  });

  it('takes the button’s form post and shows what became of the order', async () => {
    const response = await api(`/v1/billing/checkout/${ORDER_ID}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=confirm' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toContain('Payment confirmed');
    expect(callsOf('checkout.complete')[0]!.request).toEqual({ orderId: ORDER_ID, action: 'confirm' });
    const cancelled = await api(`/v1/billing/checkout/${ORDER_ID}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ action: 'cancel' }).toString() });
    expect(await cancelled.text()).toContain('Payment cancelled');
  });

  it('answers 400 naming the field for another action or an extra field, and 404 for a malformed order id', async () => {
    const form = (body: string, orderId: string = ORDER_ID) => api(`/v1/billing/checkout/${orderId}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const other = await form('action=refund');
    expect(other.status).toBe(400);
    expect((await errorCode(other)).message).toMatch(/^action:/);
    const extra = await form('action=confirm&__proto__=x');
    expect(extra.status).toBe(400);
    expect((await form('action=confirm', 'not-an-id')).status).toBe(404);
    expect((await api('/v1/billing/checkout/not-an-id')).status).toBe(404);
    expect(callsOf('checkout.complete')).toHaveLength(0);
    expect(callsOf('checkout.get')).toHaveLength(0);
  });
});

describe('form posts elsewhere', () => {
  it('are refused with 415 on JSON routes, so another site’s HTML form cannot drive them', async () => {
    for (const path of ['/v1/auth/login', '/v1/auth/register', '/v1/generations']) {
      const response = await api(path, withToken({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'login=alice&password=whatever1&kind=text&prompt=hi' }));
      expect(response.status, path).toBe(415);
      expect((await errorCode(response)).code).toBe('unsupported_media_type');
    }
    expect(callsOf('generations.create')).toHaveLength(0);
  });

  it('leave JSON bodies parsed as before, prototype-poisoning checks included', async () => {
    const poisoned = await api('/v1/generations', withToken({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":"text","prompt":"hi","__proto__":{"admin":true}}' }));
    expect(poisoned.status).toBe(400);
    const tooLarge = await api('/v1/generations', withToken({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'text', prompt: 'x'.repeat(1024 * 1024) }) }));
    expect(tooLarge.status).toBe(413);
    const response = await api('/v1/generations', withToken({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'text', prompt: '  a birthday greeting  ' }) }));
    expect(response.status).toBe(202);
    expect(callsOf('generations.create').map((call) => [call.request, call.caller.userId])).toEqual([[{ kind: 'text', prompt: 'a birthday greeting' }, USER_ID]]);
  });
});

describe('generations and contents', () => {
  it('validates a generation request at the edge, naming the field', async () => {
    const response = await api('/v1/generations', withToken({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'sculpture', prompt: 'x' }) }));
    expect(response.status).toBe(400);
    expect((await errorCode(response)).message).toMatch(/^kind:/);
    expect(callsOf('generations.create')).toHaveLength(0);
  });

  it('lists live content or the trash by ?deleted, and refuses any other value naming the parameter', async () => {
    expect((await api('/v1/contents', withToken())).status).toBe(200);
    expect((await api('/v1/contents?deleted=true', withToken())).status).toBe(200);
    expect((await api('/v1/contents?deleted=false', withToken())).status).toBe(200);
    expect(callsOf('contents.list').map((call) => call.request)).toEqual([{ deleted: false }, { deleted: true }, { deleted: false }]);
    for (const query of ['deleted=yes', 'deleted=', 'deleted=true&deleted=false']) {
      const response = await api(`/v1/contents?${query}`, withToken());
      expect(response.status, query).toBe(400);
      expect((await errorCode(response)).message).toMatch(/^deleted:/);
    }
    expect(callsOf('contents.list')).toHaveLength(3);
  });

  it('streams the file from its signed URL with the record’s type, its length and no caching', async () => {
    const response = await api(`/v1/contents/${CONTENT_ID}/file`, withToken());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('content-length')).toBe(String(FILE_BYTES.length));
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(Buffer.from(await response.arrayBuffer()).equals(FILE_BYTES)).toBe(true);
    expect(callsOf('contents.file').map((call) => [call.request, call.caller.userId])).toEqual([[{ id: CONTENT_ID }, USER_ID]]);
  });

  it('redirects to the signed URL with ?redirect=true, and refuses another value naming the parameter', async () => {
    const response = await api(`/v1/contents/${CONTENT_ID}/file?redirect=true`, withToken({ redirect: 'manual' }));
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${storeUrl}/objects/present`);
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    const bad = await api(`/v1/contents/${CONTENT_ID}/file?redirect=1`, withToken());
    expect(bad.status).toBe(400);
    expect((await errorCode(bad)).message).toMatch(/^redirect:/);
  });

  it('answers 404 for an object gone from the store, 503 for a failing store or one that redirects elsewhere', async () => {
    const signedAt = (path: string) => () => ({ url: `${storeUrl}${path}`, mimeType: 'text/plain', bytes: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    handlers.set('contents.file', signedAt('/objects/gone'));
    expect((await api(`/v1/contents/${CONTENT_ID}/file`, withToken())).status).toBe(404);
    handlers.set('contents.file', signedAt('/objects/broken'));
    expect((await api(`/v1/contents/${CONTENT_ID}/file`, withToken())).status).toBe(503);
    handlers.set('contents.file', signedAt('/objects/elsewhere'));
    expect((await api(`/v1/contents/${CONTENT_ID}/file`, withToken())).status).toBe(503);
    handlers.set('contents.file', () => ({ url: 'http://127.0.0.1:1/objects/present', mimeType: 'text/plain', bytes: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    const unreachable = await api(`/v1/contents/${CONTENT_ID}/file`, withToken());
    expect(unreachable.status).toBe(503);
    expect((await errorCode(unreachable)).code).toBe('service_unavailable');
  });

  it('answers 404 for malformed ids without asking generation, and passes its answers through', async () => {
    for (const path of ['/v1/generations/123', '/v1/contents/abc', '/v1/contents/abc/file']) expect((await api(path, withToken())).status, path).toBe(404);
    expect((await api('/v1/contents/abc', withToken({ method: 'DELETE' }))).status).toBe(404);
    expect((await api('/v1/contents/abc/restore', withToken({ method: 'POST' }))).status).toBe(404);
    expect(calls).toHaveLength(0);
    expect((await api(`/v1/contents/${CONTENT_ID}`, withToken({ method: 'DELETE' }))).status).toBe(204);
    const restored = await api(`/v1/contents/${CONTENT_ID}/restore`, withToken({ method: 'POST' }));
    expect(restored.status).toBe(200);
    expect(await restored.json()).toMatchObject({ id: CONTENT_ID, deletedAt: null });
    handlers.set('contents.restore', () => Promise.reject(new RpcError(404, 'not_found', 'no such content')));
    const late = await api(`/v1/contents/${CONTENT_ID}/restore`, withToken({ method: 'POST' }));
    expect(late.status).toBe(404);
    expect((await errorCode(late)).code).toBe('not_found');
    expect(calls.map((call) => [call.method, call.request])).toEqual([
      ['contents.delete', { id: CONTENT_ID }],
      ['contents.restore', { id: CONTENT_ID }],
      ['contents.restore', { id: CONTENT_ID }],
    ]);
  });

  it('requires a token on the generation, content and billing routes, but not on the webhook and checkout', async () => {
    const routes: Array<[string, string]> = [['POST', '/v1/generations'], ['GET', '/v1/contents'], ['GET', '/v1/billing/balance'], ['GET', '/v1/billing/products'], ['POST', '/v1/billing/orders'], ['GET', '/v1/billing/transactions']];
    for (const [method, path] of routes) expect((await api(path, { method })).status, `${method} ${path}`).toBe(401);
    expect(calls).toHaveLength(0);
    expect((await api('/v1/billing/balance', withToken())).status).toBe(200);
  });
});

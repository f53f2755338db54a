import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessTokenIssuer } from '@homiwork/auth';
import { SystemClock } from '@homiwork/clock';
import { ChatRpc, type CallerContext, type RpcRoute } from '@homiwork/contracts';
import { MessagingMetrics, RpcError, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import type { StartedService } from '@homiwork/service-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { gatewayConfigSchema } from '../src/config.js';
import { startGateway } from '../src/start-gateway.js';

/*
 * The gateway's assistant routes over real HTTP and NATS, chat stood in for by an RPC
 * responder on the real bus (the end-to-end suite runs the real service): what reaches chat,
 * what never does, and that chat's answers pass through.
 */

type Handler = (request: unknown, caller: CallerContext) => unknown;

const USER_ID = randomUUID();
const RPC_TIMEOUT_MS = 1_000;
const CREATED_AT = '2025-01-02T03:04:05.000Z';
const message = (role: 'user' | 'assistant', text: string) => ({ id: randomUUID(), role, text, status: 'answered' as const, createdAt: CREATED_AT });

let nc: NatsConnection;
let gateway: StartedService;
let chat: RpcServer;
let token: string;
const calls: Array<{ method: string; request: unknown; caller: CallerContext }> = [];
const handlers = new Map<string, Handler>();

function serve(route: RpcRoute, fallback: Handler): void {
  chat.serve(route, async (request, caller) => {
    calls.push({ method: route.method, request, caller });
    return await (handlers.get(route.method) ?? fallback)(request, caller);
  });
}

const api = (path: string, init: RequestInit = {}) => fetch(`${gateway.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
const post = (path: string, body: unknown) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

beforeAll(async () => {
  const namespace = createTestNamespace();
  nc = await connect({ servers: TEST_NATS_URL });
  const keys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const config = gatewayConfigSchema.parse({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HTTP_PORT: '0',
    OPS_PORT: '0',
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(8 * 1024 * 1024),
    IP_HASH_SALT: randomBytes(32).toString('hex'),
    JWT_PUBLIC_KEY: keys.publicKey,
    INTERNAL_API_TOKEN: randomBytes(32).toString('hex'),
    RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS),
  });
  gateway = await startGateway(config);
  token = await (await AccessTokenIssuer.fromPem(keys.privateKey, { keyId: 'test', ttlSeconds: 300, clock: new SystemClock() })).issue({ userId: USER_ID, sessionId: randomUUID(), role: 'user' });
  chat = new RpcServer(nc, namespace, 'chat', createLogger({ service: 'stand-in', level: 'silent' }), new MessagingMetrics(new ServiceMetrics('chat-stand-in')));
  serve(ChatRpc.ListAssistantsRoute, () => ({ items: [{ id: 'poem-helper', name: 'Poem helper', description: 'Writes poems' }] }));
  serve(ChatRpc.SendMessageRoute, (request) => ({ message: message('user', (request as { text: string }).text), reply: message('assistant', 'a reply') }));
  serve(ChatRpc.ListMessagesRoute, () => ({ items: [] }));
  serve(ChatRpc.ClearMessagesRoute, () => ({}));
}, 60_000);

afterAll(async () => {
  await chat?.stop();
  await gateway?.close();
  await nc?.close();
});

beforeEach(() => {
  calls.length = 0;
  handlers.clear();
});

describe('assistant routes', () => {
  it('map to chat with the caller’s user id, the body trimmed, and the contract’s statuses', async () => {
    const listed = await api('/v1/assistants');
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ items: [{ id: 'poem-helper', name: 'Poem helper', description: 'Writes poems' }] });
    const sent = await post('/v1/assistants/poem-helper/messages', { text: '  a poem about rain \n' });
    expect(sent.status).toBe(201);
    expect(((await sent.json()) as { message: { text: string } }).message.text).toBe('a poem about rain');
    expect((await api('/v1/assistants/poem-helper/messages')).status).toBe(200);
    const cleared = await api('/v1/assistants/poem-helper/messages', { method: 'DELETE' });
    expect(cleared.status).toBe(204);
    expect(await cleared.text()).toBe('');
    expect(calls.map((call) => [call.method, call.request, call.caller.userId])).toEqual([
      ['assistants.list', {}, USER_ID],
      ['messages.send', { assistantId: 'poem-helper', text: 'a poem about rain' }, USER_ID],
      ['messages.list', { assistantId: 'poem-helper' }, USER_ID],
      ['messages.clear', { assistantId: 'poem-helper' }, USER_ID],
    ]);
  });

  it('refuses empty, blank, over-long, missing and extra fields with a 400 naming the field, without asking chat', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ text: '' }, /^text:/],
      [{ text: ' \n\t ' }, /^text:/],
      [{ text: 'x'.repeat(ChatRpc.MAX_MESSAGE_CHARS + 1) }, /^text:/],
      [{}, /^text: is required/],
      [{ text: 42 }, /^text:/],
      [{ text: 'hi', userId: randomUUID() }, /unknown field userId/],
    ];
    for (const [body, message] of cases) {
      const response = await post('/v1/assistants/poem-helper/messages', body);
      expect(response.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      const error = await errorOf(response);
      expect(error.code).toBe('validation_failed');
      expect(error.message).toMatch(message);
    }
    expect(calls).toHaveLength(0);
    // The limit itself is allowed (counted after trimming).
    expect((await post('/v1/assistants/poem-helper/messages', { text: ` ${'x'.repeat(ChatRpc.MAX_MESSAGE_CHARS)} ` })).status).toBe(201);
  });

  it('answers 404 for an assistant id that cannot exist, before reading the body, without asking chat', async () => {
    for (const id of ['Poem-Helper', 'poem_helper', 'a'.repeat(41), '%2E%2E', 'poem%20helper']) {
      expect((await api(`/v1/assistants/${id}/messages`)).status, id).toBe(404);
      expect((await api(`/v1/assistants/${id}/messages`, { method: 'DELETE' })).status, id).toBe(404);
      expect((await post(`/v1/assistants/${id}/messages`, { text: '' })).status, id).toBe(404);
    }
    expect(calls).toHaveLength(0);
  });

  it('passes chat’s errors through: unknown assistant, a failed reply, no energy', async () => {
    handlers.set('messages.send', () => Promise.reject(new RpcError(404, 'not_found', 'no such assistant')));
    const unknown = await post('/v1/assistants/no-such-one/messages', { text: 'hi' });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('not_found');
    handlers.set('messages.send', () => Promise.reject(new RpcError(502, 'reply_failed', 'the assistant could not reply; your message was kept')));
    const failed = await post('/v1/assistants/poem-helper/messages', { text: 'hi' });
    expect(failed.status).toBe(502);
    expect((await errorOf(failed)).code).toBe('reply_failed');
    handlers.set('messages.send', () => Promise.reject(new RpcError(402, 'insufficient_energy', 'not enough energy')));
    expect((await post('/v1/assistants/poem-helper/messages', { text: 'hi' })).status).toBe(402);
  });

  it('waits for a send longer than the RPC time-out (the reply decides), but not for a read', async () => {
    const slow = (answer: Handler) => (request: unknown, caller: CallerContext) => new Promise((resolve) => setTimeout(() => resolve(answer(request, caller)), RPC_TIMEOUT_MS + 500));
    handlers.set('messages.send', slow((request) => ({ message: message('user', (request as { text: string }).text), reply: message('assistant', 'a late reply') })));
    handlers.set('messages.list', slow(() => ({ items: [] })));
    const [sent, listed] = await Promise.all([post('/v1/assistants/poem-helper/messages', { text: 'take your time' }), api('/v1/assistants/poem-helper/messages')]);
    expect(sent.status).toBe(201);
    expect(listed.status).toBe(504);
  });

  it('require a token', async () => {
    for (const [method, path] of [['GET', '/v1/assistants'], ['POST', '/v1/assistants/poem-helper/messages'], ['GET', '/v1/assistants/poem-helper/messages'], ['DELETE', '/v1/assistants/poem-helper/messages']] as const) {
      expect((await fetch(`${gateway.url}${path}`, { method })).status, `${method} ${path}`).toBe(401);
    }
    expect(calls).toHaveLength(0);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { defineRoute, rpcSubject } from '@homiwork/contracts';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { connectToNats, MessagingMetrics, RpcClient, RpcError, RpcServer, type NatsHandles } from '../src/index.js';

const Echo = defineRoute({
  service: 'identity',
  method: 'test.echo',
  request: z.strictObject({ word: z.string().max(10) }),
  response: z.strictObject({ word: z.string(), userId: z.uuid().nullable() }),
});
const Slow = defineRoute({ service: 'identity', method: 'test.slow', request: z.object({}), response: z.object({}) });
const Missing = defineRoute({ service: 'identity', method: 'test.nobody-serves-this', request: z.object({}), response: z.object({}) });
const Broken = defineRoute({ service: 'identity', method: 'test.broken', request: z.object({}), response: z.object({}) });
const Conflict = defineRoute({ service: 'identity', method: 'test.conflict', request: z.object({}), response: z.object({}) });
const Unreachable = defineRoute({ service: 'identity', method: 'test.unreachable', request: z.object({}), response: z.object({}) });

let nats: NatsHandles;
let server: RpcServer;
let client: RpcClient;
let namespace: string;
const echoed: string[] = [];
const caller = { requestId: 'req-1', userId: randomUUID(), role: 'user' as const };

beforeAll(async () => {
  namespace = createTestNamespace();
  nats = await connectToNats(TEST_NATS_URL, 'rpc-test');
  const metrics = new MessagingMetrics(new ServiceMetrics('rpc-test'));
  server = new RpcServer(nats.nc, namespace, 'identity', createLogger({ service: 'rpc-test', level: 'silent' }), metrics);
  server.serve(Echo, (request, context) => {
    echoed.push(request.word);
    return Promise.resolve({ word: request.word, userId: context.userId ?? null });
  });
  server.serve(Slow, () => new Promise((resolve) => setTimeout(() => resolve({}), 1_000)));
  server.serve(Broken, () => Promise.reject(new Error('database exploded for dave@example.com')));
  server.serve(Unreachable, () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })));
  server.serve(Conflict, () => Promise.reject(new RpcError(409, 'email_taken', 'this email is already registered')));
  client = new RpcClient(nats.nc, namespace);
});
afterAll(async () => {
  await server.stop();
  await nats.nc.close();
});

describe('request/reply over core NATS', () => {
  it('carries the request and the caller context', async () => {
    await expect(client.call(Echo, { word: 'hello' }, caller)).resolves.toEqual({ word: 'hello', userId: caller.userId });
  });

  it('answers a request that fails its schema with 400 naming the field', async () => {
    await expect(client.call(Echo, { word: 'much too long a word' }, caller)).rejects.toMatchObject({ status: 400, code: 'validation_failed', message: expect.stringMatching(/^word: /) });
  });

  it('passes an expected error through with its status and code', async () => {
    await expect(client.call(Conflict, {}, caller)).rejects.toMatchObject({ status: 409, code: 'email_taken' });
  });

  it('hides an unexpected error behind a generic 500', async () => {
    const error = (await client.call(Broken, {}, caller).catch((e: unknown) => e)) as RpcError;
    expect(error).toBeInstanceOf(RpcError);
    expect(error.status).toBe(500);
    expect(error.message).not.toContain('dave@example.com');
  });

  it('answers 503 with a retry hint, not 500, when the handler cannot reach its database', async () => {
    await expect(client.call(Unreachable, {}, caller)).rejects.toMatchObject({ status: 503, code: 'service_unavailable', retryAfterSeconds: 5 });
  });

  it('answers 503 at once when no instance of the service is up', async () => {
    const started = Date.now();
    await expect(client.call(Missing, {}, caller)).rejects.toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('answers 504 when the service does not answer in time', async () => {
    await expect(client.call(Slow, {}, caller, { timeoutMs: 100 })).rejects.toMatchObject({ status: 504, code: 'service_timeout' });
  });

  it('refuses a caller context carrying anything but ids and the address hash', async () => {
    await expect(client.call(Echo, { word: 'x' }, { ...caller, ip: '203.0.113.9' } as never)).rejects.toThrow(/ip/);
  });
});

describe('malformed requests on the wire', () => {
  const goodCaller = JSON.stringify(caller);
  const variants: Array<{ name: string; caller?: string; body: Uint8Array | string; code: string }> = [
    { name: 'caller header that is not JSON (the reported crash)', caller: '{', body: '{"word":"x"}', code: 'invalid_caller_context' },
    { name: 'no caller header', body: '{"word":"x"}', code: 'invalid_caller_context' },
    { name: 'caller header of the wrong shape', caller: '[1,2,3]', body: '{"word":"x"}', code: 'invalid_caller_context' },
    { name: 'caller header with a field it may not carry', caller: JSON.stringify({ ...caller, email: 'erin@example.com' }), body: '{"word":"x"}', code: 'invalid_caller_context' },
    { name: 'oversized caller header', caller: JSON.stringify({ ...caller, requestId: 'r'.repeat(10_000) }), body: '{"word":"x"}', code: 'invalid_caller_context' },
    { name: 'body that is not JSON', caller: goodCaller, body: '{"word":', code: 'invalid_json' },
    { name: 'empty body', caller: goodCaller, body: '', code: 'invalid_json' },
    { name: 'body that is not UTF-8', caller: goodCaller, body: Uint8Array.from([0x7b, 0x22, 0x77, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), code: 'invalid_encoding' },
    { name: 'body of the wrong schema, with a key that is personal data', caller: goodCaller, body: JSON.stringify({ word: 'x', 'frank@example.com': 1 }), code: 'validation_failed' },
  ];

  it.each(variants)('answers 400 $code to a $name, echoing none of it', async ({ caller: header, body, code }) => {
    const h = natsHeaders();
    if (header !== undefined) h.set('Hw-Caller', header);
    const reply = await nats.nc.request(rpcSubject(namespace, 'identity', Echo.method), body, { headers: h, timeout: 2_000 });
    const answer = reply.json<{ ok: boolean; error: { status: number; code: string; message: string } }>();
    expect(answer).toMatchObject({ ok: false, error: { status: 400, code } });
    expect(answer.error.message).not.toMatch(/example\.com|rrrr|\{$/);
  });

  it('does not run the handler for a request nobody can hear (no reply subject), and keeps serving', async () => {
    const h = natsHeaders();
    h.set('Hw-Caller', goodCaller);
    nats.nc.publish(rpcSubject(namespace, 'identity', Echo.method), JSON.stringify({ word: 'silent' }), { headers: h });
    await nats.nc.flush();
    await expect(client.call(Echo, { word: 'after' }, caller)).resolves.toEqual({ word: 'after', userId: caller.userId });
    expect(echoed).not.toContain('silent');
  });

  it('gives the caller a 502, not a crash, when a reply is malformed', async () => {
    const Liar = defineRoute({ service: 'identity', method: 'test.liar', request: z.object({}), response: z.object({}) });
    const subscription = nats.nc.subscribe(rpcSubject(namespace, 'identity', Liar.method), { callback: (_error, msg) => void msg.respond('not json') });
    try {
      await expect(client.call(Liar, {}, caller)).rejects.toMatchObject({ status: 502, code: 'bad_service_reply' });
    } finally {
      subscription.unsubscribe();
    }
  });
});

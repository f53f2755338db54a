import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRoute } from '@homiwork/contracts';
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

let nats: NatsHandles;
let server: RpcServer;
let client: RpcClient;
const caller = { requestId: 'req-1', userId: randomUUID(), role: 'user' as const };

beforeAll(async () => {
  const namespace = createTestNamespace();
  nats = await connectToNats(TEST_NATS_URL, 'rpc-test');
  const metrics = new MessagingMetrics(new ServiceMetrics('rpc-test'));
  server = new RpcServer(nats.nc, namespace, 'identity', createLogger({ service: 'rpc-test', level: 'silent' }), metrics);
  server.serve(Echo, (request, context) => Promise.resolve({ word: request.word, userId: context.userId ?? null }));
  server.serve(Slow, () => new Promise((resolve) => setTimeout(() => resolve({}), 1_000)));
  server.serve(Broken, () => Promise.reject(new Error('database exploded for dave@example.com')));
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

import { createCipheriv, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessTokenIssuer } from '@homiwork/auth';
import { SystemClock } from '@homiwork/clock';
import { RetentionRpc, type CallerContext, type RpcRoute } from '@homiwork/contracts';
import { MessagingMetrics, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import type { StartedService } from '@homiwork/service-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { gatewayConfigSchema } from '../src/config.js';
import { startGateway } from '../src/start-gateway.js';

/*
 * The gateway's privacy routes over real HTTP and NATS, retention stood in for by an RPC
 * responder on the real bus and the object store by a plain HTTP server handing out the
 * encrypted archive: the list's `?before=` cursor, and the export download's GCM check.
 */

type Handler = (request: unknown, caller: CallerContext) => unknown;

const USER_ID = randomUUID();
const RPC_TIMEOUT_MS = 2_000;

let nc: NatsConnection;
let gateway: StartedService;
let retention: RpcServer;
let objects: Server;
let token: string;
const calls: Array<{ method: string; request: unknown }> = [];
const handlers = new Map<string, Handler>();
/** What the stand-in object store serves at /archive. */
let stored = Buffer.alloc(0);

function serve(route: RpcRoute, fallback: Handler): void {
  retention.serve(route, async (request, caller) => {
    calls.push({ method: route.method, request });
    return await (handlers.get(route.method) ?? fallback)(request, caller);
  });
}

const api = (path: string) => fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

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
  objects = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stored.length) });
    response.end(stored);
  });
  await new Promise<void>((resolve) => objects.listen(0, '127.0.0.1', resolve));
  retention = new RpcServer(nc, namespace, 'retention', createLogger({ service: 'stand-in', level: 'silent' }), new MessagingMetrics(new ServiceMetrics('retention-stand-in')));
  serve(RetentionRpc.ListPrivacyRequestsRoute, () => ({ items: [] }));
  serve(RetentionRpc.OpenExportRoute, () => {
    throw new Error('no archive set up');
  });
}, 60_000);

afterAll(async () => {
  await retention?.stop();
  await gateway?.close();
  await new Promise((resolve) => objects?.close(resolve));
  await nc?.close();
});

beforeEach(() => {
  calls.length = 0;
  handlers.clear();
});

describe('GET /v1/privacy/requests', () => {
  it('passes `?before=` on to retention; without it asks for the newest page', async () => {
    expect((await api('/v1/privacy/requests')).status).toBe(200);
    const before = randomUUID();
    expect((await api(`/v1/privacy/requests?before=${before}`)).status).toBe(200);
    expect(calls).toEqual([
      { method: 'privacy.requests.list', request: {} },
      { method: 'privacy.requests.list', request: { before } },
    ]);
  });

  it('a `before` that is not a request id is a 400 naming it, and never reaches retention', async () => {
    for (const query of ['before=yesterday', 'before=', `before=${randomUUID()}&before=${randomUUID()}`]) {
      const response = await api(`/v1/privacy/requests?${query}`);
      expect(response.status, query).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('validation_failed');
      expect(error.message).toMatch(/^before:/);
    }
    expect(calls).toHaveLength(0);
  });
});

describe('GET /v1/privacy/exports/:id', () => {
  const plaintext = randomBytes(256 * 1024);

  /** An archive encrypted as retention stores it; `tamper` changes what the store serves or what retention hands over. */
  function archive(tamper: { flipByte?: number; tagBytes?: number } = {}) {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    if (tamper.flipByte !== undefined) ciphertext[tamper.flipByte]! ^= 0x01;
    stored = ciphertext;
    const url = `http://127.0.0.1:${(objects.address() as AddressInfo).port}/archive`;
    handlers.set('exports.open', () => ({
      url,
      bytes: ciphertext.length,
      fileName: 'homiwork-export-2026-12-03.tar',
      key: key.toString('base64'),
      iv: iv.toString('base64'),
      tag: tag.subarray(0, tamper.tagBytes ?? 16).toString('base64'),
    }));
  }

  /** The download as a client sees it: the status, and the body's bytes — or that the transfer broke off. */
  async function download(): Promise<{ status: number; declared: number; body?: Buffer; aborted: boolean }> {
    const response = await fetch(`${gateway.url}/v1/privacy/exports/${randomUUID()}?token=${randomBytes(32).toString('base64url')}`);
    const declared = Number(response.headers.get('content-length'));
    try {
      const body = Buffer.from(await response.arrayBuffer());
      return { status: response.status, declared, body, aborted: false };
    } catch {
      return { status: response.status, declared, aborted: true };
    }
  }

  it('an intact archive streams whole, decrypted', async () => {
    archive();
    const result = await download();
    expect(result.status).toBe(200);
    expect(result.body?.equals(plaintext)).toBe(true);
  });

  it('a tampered archive never arrives whole: the transfer breaks off when the tag fails', async () => {
    archive({ flipByte: plaintext.length - 10 });
    const result = await download();
    expect(result.status).toBe(200);
    expect(result.aborted || (result.body?.length ?? 0) < result.declared).toBe(true);
  });

  it('a shortened tag is refused (the tag length is pinned to 16 bytes): nothing of the archive is sent', async () => {
    archive({ tagBytes: 4 });
    const result = await download();
    expect(result.status).not.toBe(200);
    expect(result.body?.includes(plaintext.subarray(0, 64)) ?? false).toBe(false);
  });
});

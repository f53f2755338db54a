import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { ContractorError, type ContractorRequest } from './contractor.js';
import { EGRESS_USER_AGENT, HttpContractor, type HttpContractorOptions } from './http-contractor.js';

interface Recorded {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

interface TestServer {
  url: string;
  requests: Recorded[];
  stop(): Promise<void>;
}

type Handler = (request: Recorded, response: ServerResponse, index: number) => void;

const servers: TestServer[] = [];
const contractors: HttpContractor[] = [];

afterEach(async () => {
  contractors.splice(0).forEach((contractor) => contractor.close());
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

/** A local stand-in for the provider that records every request and answers through `handle`. */
async function serve(handle: Handler): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], body: Buffer.concat(chunks) };
      requests.push(recorded);
      handle(recorded, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const testServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(testServer);
  return testServer;
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers });
  response.end(payload);
}

function contractor(url: string, overrides: Partial<HttpContractorOptions> = {}): HttpContractor {
  const created = new HttpContractor({
    url,
    apiKey: 'test-key-0123456789',
    timeoutMs: 2_000,
    maxResponseBytes: 1024 * 1024,
    retries: 2,
    retryBaseMs: 10,
    breakerFailures: 50,
    breakerOpenMs: 60_000,
    random: () => 0.5,
    ...overrides,
  });
  contractors.push(created);
  return created;
}

const poemRequest: ContractorRequest = { jobId: '0b8f5f7e-8a53-4a57-9d5e-3f0b9b0c2d11', kind: 'poem', prompt: 'a poem about spring rain', options: { style: 'greeting' }, inputs: [] };
const imageRequest: ContractorRequest = { ...poemRequest, kind: 'image', prompt: 'a red square', options: {} };
const never = new AbortController().signal;
const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c00' } }).png().toBuffer();
const jpeg = await sharp(png).jpeg().toBuffer();

async function failure(promise: Promise<unknown>): Promise<ContractorError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ContractorError);
  return error as ContractorError;
}

describe('HttpContractor: the request', () => {
  it('POSTs the job as JSON to /v1/jobs under the base path, with exactly the allowed headers', async () => {
    const server = await serve((_request, response) => json(response, 200, { text: 'Spring rain, soft and new' }));
    const input = { mimeType: 'image/png', data: png };
    const result = await contractor(`${server.url}/provider/`).generate({ ...poemRequest, inputs: [input] }, never);

    expect(result).toEqual({ type: 'text', text: 'Spring rain, soft and new' });
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/provider/v1/jobs');
    const headers = new Map<string, string>();
    for (let i = 0; i < request!.rawHeaders.length; i += 2) headers.set(request!.rawHeaders[i]!.toLowerCase(), request!.rawHeaders[i + 1]!);
    expect([...headers.keys()].sort()).toEqual(['accept', 'authorization', 'connection', 'content-length', 'content-type', 'host', 'user-agent']);
    expect(headers.get('authorization')).toBe('Bearer test-key-0123456789');
    expect(headers.get('user-agent')).toBe(EGRESS_USER_AGENT);
    expect(headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(request!.body.toString('utf8'))).toEqual({
      jobId: poemRequest.jobId,
      kind: 'poem',
      prompt: 'a poem about spring rain',
      options: { style: 'greeting' },
      inputs: [{ mimeType: 'image/png', dataBase64: png.toString('base64') }],
    });
  });

  it('returns a file result whose bytes are of the announced type', async () => {
    const server = await serve((_request, response) => json(response, 200, { mimeType: 'image/png', dataBase64: png.toString('base64') }));
    const result = await contractor(server.url).generate(imageRequest, never);
    expect(result).toEqual({ type: 'file', mimeType: 'image/png', data: png });
  });
});

describe('HttpContractor: failures', () => {
  it('times out an attempt that does not answer, and does not retry it', async () => {
    const server = await serve(() => undefined);
    const started = performance.now();
    const error = await failure(contractor(server.url, { timeoutMs: 200 }).generate(poemRequest, never));
    expect(error.code).toBe('contractor_timeout');
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(server.requests).toHaveLength(1);
  });

  it('times out a body that trickles in too slowly', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"text": "');
    });
    const error = await failure(contractor(server.url, { timeoutMs: 200 }).generate(poemRequest, never));
    expect(error.code).toBe('contractor_timeout');
  });

  it('retries a 5xx with backoff and returns the later success', async () => {
    const server = await serve((_request, response, index) => (index === 0 ? json(response, 503, { error: 'busy' }) : json(response, 200, { text: 'ok then' })));
    const result = await contractor(server.url).generate(poemRequest, never);
    expect(result).toEqual({ type: 'text', text: 'ok then' });
    expect(server.requests).toHaveLength(2);
    // The retry is the same dispatch: same job id (the provider may deduplicate on it).
    expect(JSON.parse(server.requests[1]!.body.toString()).jobId).toBe(poemRequest.jobId);
  });

  it('gives up after the configured retries with contractor_unavailable', async () => {
    const server = await serve((_request, response) => json(response, 500, { error: 'down' }));
    const error = await failure(contractor(server.url, { retries: 2 }).generate(poemRequest, never));
    expect(error.code).toBe('contractor_unavailable');
    expect(server.requests).toHaveLength(3);
  });

  it('retries a dropped connection', async () => {
    const server = await serve((request, response, index) => (index === 0 ? response.socket?.destroy() : json(response, 200, { text: 'second time' })));
    const result = await contractor(server.url).generate(poemRequest, never);
    expect(result).toEqual({ type: 'text', text: 'second time' });
    expect(server.requests).toHaveLength(2);
  });

  it('reports a contractor that cannot be reached', async () => {
    const server = await serve(() => undefined);
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
    const error = await failure(contractor(server.url, { retries: 1 }).generate(poemRequest, never));
    expect(error.code).toBe('contractor_unavailable');
  });

  it.each([
    [400, 'contractor_rejected'],
    [401, 'contractor_rejected'],
    [422, 'contractor_rejected'],
    [429, 'contractor_unavailable'],
  ])('does not retry a %i (%s)', async (status, code) => {
    const server = await serve((_request, response) => json(response, status, { error: 'no', echo: 'a poem about spring rain' }));
    const error = await failure(contractor(server.url).generate(poemRequest, never));
    expect(error.code).toBe(code);
    expect(error.message).not.toContain('spring');
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a redirect to another host; that host receives nothing', async () => {
    const elsewhere = await serve((_request, response) => json(response, 200, { text: 'stolen' }));
    const server = await serve((_request, response) => json(response, 307, {}, { location: `${elsewhere.url}/v1/jobs` }));
    const error = await failure(contractor(server.url).generate(poemRequest, never));
    expect(error.code).toBe('contractor_unavailable');
    expect(error.message).toMatch(/redirect/);
    expect(server.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('stops at once when the caller aborts, with the caller’s reason', async () => {
    const server = await serve(() => undefined);
    const controller = new AbortController();
    const pending = contractor(server.url).generate(poemRequest, controller.signal);
    setTimeout(() => controller.abort(new Error('job cancelled')), 50);
    await expect(pending).rejects.toThrow('job cancelled');
    expect(server.requests).toHaveLength(1);
  });
});

describe('HttpContractor: the circuit breaker', () => {
  it('opens after consecutive failures, fails fast while open, and closes after a good trial', async () => {
    let healthy = false;
    const server = await serve((_request, response) => (healthy ? json(response, 200, { text: 'back' }) : json(response, 502, {})));
    const adapter = contractor(server.url, { retries: 0, breakerFailures: 3, breakerOpenMs: 300 });

    for (let i = 0; i < 3; i++) expect((await failure(adapter.generate(poemRequest, never))).code).toBe('contractor_unavailable');
    expect(adapter.circuit).toBe('open');
    expect(server.requests).toHaveLength(3);

    const fast = await failure(adapter.generate(poemRequest, never));
    expect(fast.code).toBe('contractor_unavailable');
    expect(fast.message).toMatch(/paused/);
    expect(server.requests).toHaveLength(3);

    healthy = true;
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await adapter.generate(poemRequest, never)).toEqual({ type: 'text', text: 'back' });
    expect(adapter.circuit).toBe('closed');
  });

  it('does not count refusals (4xx) towards opening', async () => {
    const server = await serve((_request, response) => json(response, 400, {}));
    const adapter = contractor(server.url, { retries: 0, breakerFailures: 2 });
    for (let i = 0; i < 4; i++) expect((await failure(adapter.generate(poemRequest, never))).code).toBe('contractor_rejected');
    expect(adapter.circuit).toBe('closed');
    expect(server.requests).toHaveLength(4);
  });
});

describe('HttpContractor: the answer is checked', () => {
  it('aborts a response larger than the cap while it arrives', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      response.write('{"text":"');
      // 200 × 64 KiB = 12.5 MiB, far over the 256 KiB cap.
      let sent = 0;
      const push = () => {
        while (sent < 200) {
          sent++;
          if (!response.write(chunk)) return void response.once('drain', push);
        }
        response.end('"}');
      };
      push();
    });
    const error = await failure(contractor(server.url, { maxResponseBytes: 256 * 1024 }).generate(poemRequest, never));
    expect(error.code).toBe('invalid_result');
    expect(error.message).toMatch(/larger than/);
  });

  it('refuses a response whose declared length is over the cap without reading it', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      response.write('{');
    });
    const error = await failure(contractor(server.url, { maxResponseBytes: 1024 }).generate(poemRequest, never));
    expect(error.code).toBe('invalid_result');
  });

  it.each([
    ['a wrong content type', (response: ServerResponse) => json(response, 200, '<html>hi</html>', { 'content-type': 'text/html' }), poemRequest],
    ['bad JSON', (response: ServerResponse) => json(response, 200, '{"text": '), poemRequest],
    ['an unknown shape', (response: ServerResponse) => json(response, 200, { result: 'hi' }), poemRequest],
    ['extra fields', (response: ServerResponse) => json(response, 200, { text: 'hi', user: 'someone' }), poemRequest],
    ['text over 100k characters', (response: ServerResponse) => json(response, 200, { text: 'a'.repeat(100_001) }), poemRequest],
    ['a file for a poem', (response: ServerResponse) => json(response, 200, { mimeType: 'image/png', dataBase64: png.toString('base64') }), poemRequest],
    ['text for an image', (response: ServerResponse) => json(response, 200, { text: 'a red square' }), imageRequest],
    ['a disallowed MIME type', (response: ServerResponse) => json(response, 200, { mimeType: 'image/svg+xml', dataBase64: Buffer.from('<svg/>').toString('base64') }), imageRequest],
    ['a MIME type of another kind', (response: ServerResponse) => json(response, 200, { mimeType: 'audio/mpeg', dataBase64: png.toString('base64') }), imageRequest],
    ['bytes that are not the announced type', (response: ServerResponse) => json(response, 200, { mimeType: 'image/jpeg', dataBase64: png.toString('base64') }), imageRequest],
    ['invalid base64', (response: ServerResponse) => json(response, 200, { mimeType: 'image/jpeg', dataBase64: `${jpeg.toString('base64')}!!` }), imageRequest],
    ['a 204', (response: ServerResponse) => response.writeHead(204).end(), poemRequest],
  ])('answers invalid_result for %s, without retrying', async (_case, respond, request) => {
    const server = await serve((_request, response) => respond(response));
    const error = await failure(contractor(server.url).generate(request, never));
    expect(error.code).toBe('invalid_result');
    expect(server.requests).toHaveLength(1);
  });
});

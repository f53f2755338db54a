/**
 * THE anonymization test at the egress (R4.2, policy §7.2): the real egress and `http`
 * adapter against a local server that keeps every byte it receives, called the way the
 * job runner calls it — from inside a traced request, with a job row that still holds the
 * user's ids. Nothing that could identify the user may reach the server; when scrubbing
 * fails, nothing at all may.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context } from '@opentelemetry/api';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, extractTraceContext, initTracing, injectTraceHeaders, type TracingHandle } from '@homiwork/observability';
import { ContractorError } from './contractor.js';
import type { ContractorConfig } from './contractor-config.js';
import { ContractorEgress, type ContractorJob } from './egress.js';
import { HttpContractor } from './http-contractor.js';
import { renderConversation } from '../usecases/chat-reply/conversation.js';
import { AnonymizationError, PromptScrubber } from './scrubber.js';

interface Recorded {
  /** Request line, raw header lines and body, exactly as they came off the socket's parser. */
  bytes: Buffer;
  rawHeaders: string[];
  url: string;
  body: Buffer;
}

const received: Recorded[] = [];
let server: Server;
let serverUrl = '';
let tracing: TracingHandle;

// The user and everything that identifies them or their request on the way in.
const user = {
  id: randomUUID(),
  email: 'Ana.Lopez+test@example.com',
  username: 'ana_lopez',
  sessionId: randomUUID(),
  ipHash: randomBytes(32).toString('hex'),
  uploadId: randomUUID(),
  contentId: randomUUID(),
  storedJobId: randomUUID(),
  accessToken: `eyJhbGciOiJFZERTQSJ9.${randomBytes(24).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
  userAgent: 'Mozilla/5.0 (X11; AnaBook) Firefox/140.0',
};
const traceId = randomBytes(16).toString('hex');
const parentSpanId = randomBytes(8).toString('hex');
const phone = '+49 170 1234567';
const otherEmail = 'bob.builder@other-company.org';
const prompt = `Write a birthday poem for my friend about sailing and lemon trees. From ${user.username} (${user.email}), call me at ${phone}, and copy ${otherEmail}.`;

const logger = createLogger({ service: 'egress-integration', level: 'silent' });
const config: ContractorConfig = {
  CONTRACTOR_URL: '',
  CONTRACTOR_API_KEY: 'provider-key-0123456789',
  CONTRACTOR_ADAPTERS: { song: 'local', image: 'http', poem: 'http', text: 'http', video: 'local' },
  CONTRACTOR_TIMEOUT_MS: 5_000,
  CONTRACTOR_MAX_RESPONSE_MB: 5,
  CONTRACTOR_RETRIES: 0,
  CONTRACTOR_RETRY_BASE_MS: 10,
  CONTRACTOR_BREAKER_FAILURES: 5,
  CONTRACTOR_BREAKER_OPEN_MS: 1_000,
};

let image: Buffer;

beforeAll(async () => {
  image = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#3a7' } }).png().toBuffer();
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const head = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) head.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      received.push({ bytes: Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]), rawHeaders: [...request.rawHeaders], url: request.url ?? '', body });
      const payload = JSON.stringify({ text: 'Sails and lemons, a happy day' });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      response.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tracing = initTracing({ service: 'egress-integration' });
});

afterAll(async () => {
  await tracing.shutdown();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
});

/** The job the way a careless caller might hand it over: the whole row, ids and all, plus an input with its upload id. */
function jobRow(): ContractorJob {
  return {
    id: user.storedJobId,
    userId: user.id,
    sessionId: user.sessionId,
    ipHash: user.ipHash,
    contentId: user.contentId,
    uploadIds: [user.uploadId],
    headers: { authorization: `Bearer ${user.accessToken}`, 'user-agent': user.userAgent },
    kind: 'poem',
    prompt,
    options: { style: 'greeting', userId: user.id, user: user.username, sessionId: user.sessionId } as ContractorJob['options'],
    inputs: [{ mimeType: 'image/png', data: image, uploadId: user.uploadId, ownerId: user.id } as ContractorJob['inputs'][number]],
  } as ContractorJob;
}

/** Dispatches from inside the caller's traced context, as the job runner does. */
function dispatchTraced(egress: ContractorEgress): Promise<unknown> {
  const parent = extractTraceContext({ traceparent: `00-${traceId}-${parentSpanId}-01`, tracestate: 'homiwork=ana', baggage: `userId=${user.id}` });
  return context.with(parent, () => {
    // The calling context really is traced: a careless client here would send this.
    expect(injectTraceHeaders({}).traceparent).toContain(traceId);
    return egress.dispatch(jobRow(), { email: user.email, username: user.username }, new AbortController().signal);
  });
}

/** The secret as text (compared case-insensitively) and as base64/base64url at every byte alignment (compared exactly). */
function spellings(secret: string): { text: string; encoded: string[] } {
  const encoded = new Set<string>();
  for (const form of [secret, secret.toLowerCase(), secret.toUpperCase()]) {
    for (let pad = 0; pad < 3; pad++) {
      const bytes = Buffer.concat([Buffer.alloc(pad, 0x20), Buffer.from(form, 'utf8')]);
      // Characters at the edges depend on the neighbouring bytes; the middle does not.
      for (const text of [bytes.toString('base64'), bytes.toString('base64url')]) encoded.add(text.slice(Math.ceil((pad * 4) / 3) + 1, -3));
    }
  }
  return { text: secret.toLowerCase(), encoded: [...encoded].filter((form) => form.length >= 6) };
}

describe('the contractor egress (http adapter) sends nothing that identifies the user', () => {
  it('strips identifiers from body, URL, query and headers, detaches the trace, and draws a new job id per dispatch', async () => {
    const egress = ContractorEgress.fromConfig({ ...config, CONTRACTOR_URL: serverUrl }, logger);
    try {
      await dispatchTraced(egress);
      await dispatchTraced(egress);
    } finally {
      egress.close();
    }
    expect(received).toHaveLength(2);

    const secrets = [
      user.id,
      user.email,
      'Ana.Lopez',
      user.username,
      'Ana Lopez',
      user.sessionId,
      user.ipHash,
      user.uploadId,
      user.contentId,
      user.storedJobId,
      user.accessToken,
      user.userAgent,
      'AnaBook',
      phone,
      '1701234567',
      '170 1234567',
      otherEmail,
      'bob.builder',
      traceId,
      parentSpanId,
    ];
    for (const request of received) {
      const wire = request.bytes.toString('latin1');
      const decodedInputs = (JSON.parse(request.body.toString('utf8')) as { inputs: Array<{ dataBase64: string }> }).inputs.map((input) => Buffer.from(input.dataBase64, 'base64').toString('latin1'));
      for (const secret of secrets) {
        const { text, encoded } = spellings(secret);
        expect(wire.toLowerCase(), `"${secret}" reached the contractor`).not.toContain(text);
        for (const form of encoded) expect(wire, `"${secret}" reached the contractor as "${form}"`).not.toContain(form);
        for (const bytes of decodedInputs) expect(bytes.toLowerCase(), `"${secret}" reached the contractor inside an input`).not.toContain(text);
      }
      const headerNames = request.rawHeaders.filter((_value, index) => index % 2 === 0).map((name) => name.toLowerCase());
      expect(headerNames).not.toContain('traceparent');
      expect(headerNames).not.toContain('tracestate');
      expect(headerNames).not.toContain('baggage');
      expect(headerNames).not.toContain('cookie');
      expect(headerNames.sort()).toEqual(['accept', 'authorization', 'connection', 'content-length', 'content-type', 'host', 'user-agent']);
      expect(request.url).toBe('/v1/jobs');
    }

    const bodies = received.map((request) => JSON.parse(request.body.toString('utf8')) as { jobId: string; kind: string; prompt: string; options: unknown; inputs: Array<{ mimeType: string; dataBase64: string }> });
    for (const body of bodies) {
      expect(Object.keys(body).sort()).toEqual(['inputs', 'jobId', 'kind', 'options', 'prompt']);
      expect(body.kind).toBe('poem');
      expect(body.options).toEqual({ style: 'greeting' });
      // What the user asked for arrives, with the contact details masked.
      expect(body.prompt).toContain('Write a birthday poem for my friend about sailing and lemon trees.');
      expect(body.prompt).toContain('[phone]');
      expect(body.prompt).toContain('[email]');
      // The input image arrives as its bytes.
      expect(body.inputs).toEqual([{ mimeType: 'image/png', dataBase64: image.toString('base64') }]);
    }
    expect(bodies[0]!.jobId).not.toBe(bodies[1]!.jobId);
    for (const body of bodies) expect([user.storedJobId, user.id, user.contentId, user.uploadId]).not.toContain(body.jobId);
  });

  it('sends nothing when the scrubber throws, and fails with anonymization_failed', async () => {
    class BrokenScrubber extends PromptScrubber {
      override scrub(): string {
        throw new AnonymizationError('analyzer unavailable');
      }
    }
    const egress = egressWithScrubber(new BrokenScrubber());
    try {
      const error = await dispatchTraced(egress).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(ContractorError);
      expect((error as ContractorError).code).toBe('anonymization_failed');
    } finally {
      egress.close();
    }
    expect(received).toHaveLength(0);
  });

  it('sends nothing when scrubbing misses something: the verify step stops it', async () => {
    class LeakyScrubber extends PromptScrubber {
      protected override mask(text: string): string {
        return text;
      }
    }
    const egress = egressWithScrubber(new LeakyScrubber());
    try {
      const error = await dispatchTraced(egress).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect((error as ContractorError).code).toBe('anonymization_failed');
    } finally {
      egress.close();
    }
    expect(received).toHaveLength(0);
  });
});

describe('a chat conversation through the egress (http adapter) sends nothing that identifies the user', () => {
  // The user's identifiers spread over several turns, in the spellings people type.
  const turns = [
    { role: 'user' as const, text: `Hi! I am ${user.username}, you can write to ${user.email}.` },
    { role: 'assistant' as const, text: 'Hello! How can I help with your greeting card?' },
    { role: 'user' as const, text: `Sign it "Ana Lopez" and add my number ${phone}, or ana.lopez@example.com.` },
    { role: 'assistant' as const, text: 'Noted. Shall the card mention lemon trees?' },
    { role: 'user' as const, text: `Yes. And thank ${otherEmail}; mention @ana_lopez's sailing boat and call 0170/1234567.` },
  ];

  it('strips the identifiers from every turn, keeps the rest in order, and draws a new job id per reply', async () => {
    const egress = ContractorEgress.fromConfig({ ...config, CONTRACTOR_URL: serverUrl }, logger);
    const reply = () =>
      context.with(extractTraceContext({ traceparent: `00-${traceId}-${parentSpanId}-01`, baggage: `userId=${user.id}` }), () =>
        egress.dispatch({ kind: 'text', prompt: renderConversation(turns), options: { style: 'greeting' }, inputs: [], promptLimit: 'conversation' }, { email: user.email, username: user.username }, new AbortController().signal),
      );
    try {
      await reply();
      await reply();
    } finally {
      egress.close();
    }
    expect(received).toHaveLength(2);
    const secrets = [user.id, user.email, 'Ana.Lopez', user.username, 'Ana Lopez', 'ana_lopez', phone, '1701234567', '170 1234567', '0170/1234567', otherEmail, 'bob.builder', traceId, parentSpanId];
    for (const request of received) {
      const wire = request.bytes.toString('latin1');
      for (const secret of secrets) {
        const { text, encoded } = spellings(secret);
        expect(wire.toLowerCase(), `"${secret}" reached the contractor`).not.toContain(text);
        for (const form of encoded) expect(wire, `"${secret}" reached the contractor as "${form}"`).not.toContain(form);
      }
      const headerNames = request.rawHeaders.filter((_value, index) => index % 2 === 0).map((name) => name.toLowerCase());
      expect(headerNames).not.toContain('traceparent');
      expect(headerNames).not.toContain('baggage');
    }
    const bodies = received.map((request) => JSON.parse(request.body.toString('utf8')) as { jobId: string; kind: string; prompt: string; options: unknown; inputs: unknown[] });
    for (const body of bodies) {
      expect(Object.keys(body).sort()).toEqual(['inputs', 'jobId', 'kind', 'options', 'prompt']);
      expect(body).toMatchObject({ kind: 'text', options: { style: 'greeting' }, inputs: [] });
      // The conversation arrives whole, in order, newest last, with the contact details masked.
      const lines = body.prompt.split('\n');
      expect(lines.map((line) => line.split(':')[0])).toEqual(['User', 'Assistant', 'User', 'Assistant', 'User', 'Assistant']);
      expect(lines[1]).toBe('Assistant: Hello! How can I help with your greeting card?');
      expect(lines[4]).toContain('sailing boat');
      expect(lines[5]).toBe('Assistant:');
      expect(body.prompt).toContain('[phone]');
      expect(body.prompt).toContain('[email]');
    }
    expect(bodies[0]!.jobId).not.toBe(bodies[1]!.jobId);
  });
});

/** The egress fromConfig builds for these settings, with another scrubber. */
function egressWithScrubber(scrubber: PromptScrubber): ContractorEgress {
  const http = new HttpContractor({
    url: serverUrl,
    apiKey: config.CONTRACTOR_API_KEY!,
    timeoutMs: config.CONTRACTOR_TIMEOUT_MS,
    maxResponseBytes: 5 * 1024 * 1024,
    retries: 0,
    retryBaseMs: 10,
    breakerFailures: 5,
    breakerOpenMs: 1_000,
  });
  return new ContractorEgress({ song: http, image: http, poem: http, text: http, video: http }, scrubber, logger);
}

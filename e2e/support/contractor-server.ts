import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

const run = promisify(execFile);

/** One request exactly as it arrived: nothing normalised, so a leak cannot hide in a detail. */
export interface RecordedRequest {
  method: string;
  /** The request target as sent (path and query). */
  url: string;
  /** Header names and values in arrival order, as Node's rawHeaders gives them. */
  rawHeaders: string[];
  body: Buffer;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

/**
 * A local HTTP server standing in for an outside party (an AI provider, a payment
 * processor). It keeps every byte of every request so a test can prove what left the
 * system, and answers with whatever `respond` returns.
 */
export async function startRecordingServer(respond: (request: RecordedRequest) => Reply | Promise<Reply>): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    void readAll(req).then(async (body) => {
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], body };
      requests.push(recorded);
      let reply: Reply;
      try {
        reply = await respond(recorded);
      } catch (error) {
        reply = { status: 500, body: { error: String(error) } };
      }
      const payload = Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
      res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': payload.length, ...reply.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Requests as text: request line, every header as sent, the raw body. */
export function requestBytes(requests: readonly RecordedRequest[]): string {
  return requests.map((r) => `${r.method} ${r.url}\n${pairs(r.rawHeaders).join('\n')}\n\n${r.body.toString('utf8')}`).join('\n\n');
}

function pairs(rawHeaders: string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) lines.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  return lines;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The JSON body the `http` adapter sends: `{jobId, kind, prompt, options, inputs}`. */
export interface ContractorJob {
  jobId: string;
  kind: 'song' | 'image' | 'poem' | 'text' | 'video';
  prompt: string;
  options: Record<string, unknown>;
  inputs: Array<{ mimeType: string; dataBase64: string }>;
}

export function parseJob(request: RecordedRequest): ContractorJob {
  return JSON.parse(request.body.toString('utf8')) as ContractorJob;
}

/** Small valid results of each kind, made once: what a provider would answer. */
export interface SampleResults {
  png: Buffer;
  ogg: Buffer;
  mp4: Buffer;
}

export async function makeSampleResults(): Promise<SampleResults> {
  const dir = await mkdtemp(join(tmpdir(), 'contractor-samples-'));
  try {
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
    const ogg = join(dir, 'tone.ogg');
    const mp4 = join(dir, 'clip.mp4');
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'libopus', '-map_metadata', '-1', '-f', 'ogg', ogg]);
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=10:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-map_metadata', '-1', mp4]);
    return { png, ogg: await readFile(ogg), mp4: await readFile(mp4) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A provider answering every kind with a small valid result (text echoes nothing of the prompt). */
export function answerEveryKind(samples: SampleResults): (request: RecordedRequest) => Reply {
  return (request) => {
    if (request.method !== 'POST' || !request.url.startsWith('/v1/jobs')) return { status: 404, body: { error: 'not found' } };
    const job = parseJob(request);
    switch (job.kind) {
      case 'text':
      case 'poem':
        return { status: 200, body: { text: `A ${job.kind} from the recording contractor.\nLine two.` } };
      case 'image':
        return { status: 200, body: { mimeType: 'image/png', dataBase64: samples.png.toString('base64') } };
      case 'song':
        return { status: 200, body: { mimeType: 'audio/ogg', dataBase64: samples.ogg.toString('base64') } };
      case 'video':
        return { status: 200, body: { mimeType: 'video/mp4', dataBase64: samples.mp4.toString('base64') } };
    }
  };
}

/**
 * Every way a secret could travel hidden in recorded bytes: verbatim in any case, without
 * a UUID's dashes, URL-encoded, and base64/base64url at each of the three alignments (a
 * value inside a longer base64 string is encoded differently depending on its offset).
 */
export function encodedForms(secret: string): string[] {
  const forms = new Set<string>([secret, secret.replaceAll('-', ''), encodeURIComponent(secret)]);
  const bytes = Buffer.from(secret, 'utf8');
  for (const offset of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    for (const encoding of ['base64', 'base64url'] as const) {
      const encoded = padded.toString(encoding).replace(/=+$/, '');
      // Characters touched by the padding bytes before or the unknown bytes after vary: keep the stable middle.
      const start = Math.ceil((offset * 4) / 3);
      const end = Math.floor(((offset + bytes.length) * 4) / 3);
      if (end - start >= 8) forms.add(encoded.slice(start, end));
    }
  }
  return [...forms];
}

/**
 * The recorded bytes plus what every base64-looking run in them decodes to (an input image
 * could carry an identifier in its own metadata), all lower-cased for any-case matching.
 */
export function searchableText(raw: string): string {
  const parts = [raw];
  for (const run of raw.match(/[A-Za-z0-9+/_-]{24,}={0,2}/g) ?? []) {
    for (const encoding of ['base64', 'base64url'] as const) parts.push(Buffer.from(run, encoding).toString('latin1'));
  }
  return parts.join('\n').toLowerCase();
}

/** The secrets (by label) found in the haystack in any of their forms. */
export function leaksIn(haystack: string, secrets: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    for (const form of encodedForms(secret)) if (haystack.includes(form.toLowerCase())) found.push(`${label} (as ${form})`);
  }
  return found;
}

import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { z } from 'zod';
import type { GenerationRpc } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import { ContractorError, type ContractorAdapter, type ContractorRequest, type ContractorResult } from './contractor.js';
import { MAX_TEXT_RESULT_CHARS, RESULT_MIME_TYPES, checkResult } from './contractor-result.js';

/**
 * The `http` adapter: `POST {CONTRACTOR_URL}/v1/jobs` to an AI provider (R4.3, policy §7.2).
 *
 * It speaks through node:http(s) directly, not fetch or an instrumented client, so that the
 * bytes on the wire are exactly these: the request line, `host`, `connection`,
 * `content-length`, and the four headers below. fetch would add `accept-language`,
 * `sec-fetch-mode` and `accept-encoding`, and an instrumented client a `traceparent`.
 * No cookie is ever stored or sent, and a redirect is never followed: node:http does not
 * follow them, and any 3xx is a failure, so nothing can be steered to another host.
 *
 * Resilience: each attempt has its own time-out (body included); a 5xx or a network error
 * is retried up to `retries` times with exponential backoff and full jitter; a 4xx, a 3xx, a
 * time-out and an invalid answer are not (a retry would not change a refusal, and a timed-out
 * job may still be running at the provider). Attempts go through a circuit breaker
 * (cockatiel's ConsecutiveBreaker): after `breakerFailures` consecutive failed attempts
 * (5xx, network, time-out, redirect) it opens and every dispatch fails at once with
 * `contractor_unavailable`; after `breakerOpenMs` one trial attempt is let through, and its
 * success closes the circuit. Refusals (4xx) do not count: one user's rejected prompt must
 * not stop everyone's generations.
 */
export interface HttpContractorOptions {
  /** Base URL; `/v1/jobs` is appended to its path. */
  readonly url: string;
  readonly apiKey: string;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly breakerFailures: number;
  readonly breakerOpenMs: number;
  readonly logger?: Logger;
  /** Jitter in [0, 1); tests pin it. */
  readonly random?: () => number;
}

/** Sent as the user agent: names the software, carries no version or host detail to fingerprint. */
export const EGRESS_USER_AGENT = 'homiwork-egress/1';
const MAX_BACKOFF_MS = 30_000;

const ResponseBody = z.union([
  z.strictObject({ text: z.string().max(MAX_TEXT_RESULT_CHARS) }),
  z.strictObject({ mimeType: z.string().refine((type) => RESULT_MIME_TYPES.includes(type)), dataBase64: z.string().min(1) }),
]);

/** One attempt that did not produce a result, with what the retry loop and the breaker make of it. */
class AttemptFailure extends Error {
  constructor(
    readonly failure: ContractorError,
    /** A 5xx or a network error: another attempt may succeed. */
    readonly retriable: boolean,
    /** Says the contractor is unhealthy (counts towards opening the circuit). */
    readonly unhealthy: boolean,
  ) {
    super(failure.message);
  }
}

export type CircuitName = 'closed' | 'open' | 'half-open';

export class HttpContractor implements ContractorAdapter {
  readonly name = 'http' as const;
  private readonly endpoint: URL;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly random: () => number;

  constructor(private readonly options: HttpContractorOptions) {
    this.endpoint = new URL(`${options.url.replace(/\/+$/, '')}/v1/jobs`);
    this.transport = this.endpoint.protocol === 'https:' ? https : http;
    // Keep-alive saves a TCP (and TLS) handshake per job; a connection is no identifier of a user.
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 32 });
    this.breaker = circuitBreaker(
      handleWhen((error) => error instanceof AttemptFailure && error.unhealthy),
      { halfOpenAfter: options.breakerOpenMs, breaker: new ConsecutiveBreaker(options.breakerFailures) },
    );
    this.breaker.onBreak(() => options.logger?.error({ adapter: 'http' }, 'contractor circuit opened: dispatches fail fast'));
    this.breaker.onReset(() => options.logger?.info({ adapter: 'http' }, 'contractor circuit closed again'));
    this.random = options.random ?? Math.random;
  }

  get circuit(): CircuitName {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
      case CircuitState.Isolated:
        return 'open';
    }
  }

  async generate(request: ContractorRequest, signal: AbortSignal): Promise<ContractorResult> {
    const body = Buffer.from(
      JSON.stringify({
        jobId: request.jobId,
        kind: request.kind,
        prompt: request.prompt,
        options: request.options,
        inputs: request.inputs.map((input) => ({ mimeType: input.mimeType, dataBase64: input.data.toString('base64') })),
      }),
    );
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        return await this.breaker.execute(() => this.attempt(body, request.kind, signal), signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (error instanceof BrokenCircuitError) throw new ContractorError('contractor_unavailable', 'the contractor is failing; dispatches are paused for a while');
        if (!(error instanceof AttemptFailure)) throw error;
        if (!error.retriable || attempt >= this.options.retries) throw error.failure;
        const delay = this.backoff(attempt);
        this.options.logger?.warn({ adapter: 'http', kind: request.kind, attempt: attempt + 1, code: error.failure.code, delayMs: Math.round(delay) }, 'contractor attempt failed; retrying');
        await sleep(delay, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Closes idle keep-alive connections (service shutdown, tests). */
  close(): void {
    this.agent.destroy();
  }

  /** Full jitter: uniform in [0, base·2^attempt], capped. */
  private backoff(attempt: number): number {
    return this.random() * Math.min(MAX_BACKOFF_MS, this.options.retryBaseMs * 2 ** attempt);
  }

  private async attempt(body: Buffer, kind: GenerationRpc.GenerationKind, outer: AbortSignal): Promise<ContractorResult> {
    const response = await this.post(body, outer);
    return parseResult(kind, response);
  }

  /** One POST; resolves with a 200's JSON body (size-capped), rejects with an AttemptFailure otherwise. */
  private post(body: Buffer, outer: AbortSignal): Promise<Buffer> {
    const { timeoutMs, maxResponseBytes, apiKey } = this.options;
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown, value?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outer.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(value!);
        else {
          request.destroy();
          reject(error instanceof Error ? error : new Error('the dispatch was aborted'));
        }
      };
      const onAbort = () => finish(outer.reason);
      const timer = setTimeout(() => finish(new AttemptFailure(new ContractorError('contractor_timeout', `the contractor did not answer within ${timeoutMs} ms`), false, true)), timeoutMs);

      const request = this.transport.request(this.endpoint, {
        method: 'POST',
        agent: this.agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${apiKey}`,
          'user-agent': EGRESS_USER_AGENT,
          'content-length': String(body.length),
        },
      });
      outer.addEventListener('abort', onAbort, { once: true });
      request.on('error', () => finish(new AttemptFailure(new ContractorError('contractor_unavailable', 'the contractor could not be reached'), true, true)));
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        const refusal = statusFailure(status);
        if (refusal) {
          // Not read: a refusal's body may echo the prompt, and it has no use here.
          response.destroy();
          finish(refusal);
          return;
        }
        if (!/^application\/json\s*(;|$)/i.test(response.headers['content-type'] ?? '')) {
          response.destroy();
          finish(invalid('the answer is not application/json'));
          return;
        }
        const declared = Number(response.headers['content-length'] ?? 0);
        if (declared > maxResponseBytes) {
          response.destroy();
          finish(invalid(`the answer is larger than ${maxResponseBytes} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxResponseBytes) {
            response.destroy();
            finish(invalid(`the answer is larger than ${maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        const broke = () => finish(new AttemptFailure(new ContractorError('contractor_unavailable', 'the contractor connection broke'), true, true));
        response.on('end', () => finish(undefined, Buffer.concat(chunks)));
        response.on('error', broke);
        response.on('close', () => {
          if (!response.complete) broke();
        });
      });
      if (outer.aborted) onAbort();
      else request.end(body);
    });
  }
}

function statusFailure(status: number): AttemptFailure | undefined {
  if (status === 200) return undefined;
  if (status >= 300 && status < 400) return new AttemptFailure(new ContractorError('contractor_unavailable', `the contractor answered with a redirect (${status}), which is never followed`), false, true);
  if (status === 429) return new AttemptFailure(new ContractorError('contractor_unavailable', 'the contractor is over its rate limit'), false, false);
  if (status >= 400 && status < 500) return new AttemptFailure(new ContractorError('contractor_rejected', `the contractor refused the request (${status})`), false, false);
  if (status >= 500 && status < 600) return new AttemptFailure(new ContractorError('contractor_unavailable', `the contractor failed (${status})`), true, true);
  return invalid(`unexpected status ${status}`);
}

async function parseResult(kind: GenerationRpc.GenerationKind, body: Buffer): Promise<ContractorResult> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('the answer is not JSON');
  }
  const parsed = ResponseBody.safeParse(json);
  if (!parsed.success) throw invalid('the answer is neither {text} nor {mimeType, dataBase64} of an allowed type');
  const answer = parsed.data;
  let result: ContractorResult;
  if ('text' in answer) {
    result = { type: 'text', text: answer.text };
  } else {
    const data = Buffer.from(answer.dataBase64, 'base64');
    // Buffer.from skips what is not base64; a round trip that differs means the input was not clean base64.
    if (data.toString('base64') !== answer.dataBase64) throw invalid('dataBase64 is not valid base64');
    result = { type: 'file', mimeType: answer.mimeType, data };
  }
  try {
    return await checkResult(kind, result);
  } catch (error) {
    if (error instanceof ContractorError) throw new AttemptFailure(error, false, false);
    throw error;
  }
}

function invalid(reason: string): AttemptFailure {
  return new AttemptFailure(new ContractorError('invalid_result', `the contractor's answer was refused: ${reason}`), false, false);
}

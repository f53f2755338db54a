import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { isTracingSuppressed } from '@opentelemetry/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, extractTraceContext, initTracing, injectTraceHeaders, type TracingHandle } from '@homiwork/observability';
import type { GenerationRpc } from '@homiwork/contracts';
import { ContractorError, type ContractorAdapter, type ContractorOptions, type ContractorRequest, type ContractorResult } from './contractor.js';
import { ContractorEgress, type ContractorJob } from './egress.js';
import { MAX_CONVERSATION_SCRUB_CHARS, MAX_SCRUB_CHARS, PromptScrubber } from './scrubber.js';

const identifiers = { email: 'Ana.Lopez+test@example.com', username: 'ana_lopez' };
const never = new AbortController().signal;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An in-process adapter that keeps what it was given and what the OpenTelemetry context looked like then. */
class RecordingAdapter implements ContractorAdapter {
  readonly name = 'local' as const;
  readonly requests: ContractorRequest[] = [];
  readonly carriers: Array<Record<string, string>> = [];
  readonly suppressed: boolean[] = [];
  readonly activeSpans: Array<string | undefined> = [];

  constructor(private readonly answer: (request: ContractorRequest) => ContractorResult | Promise<ContractorResult> = () => ({ type: 'text', text: 'a result' })) {}

  async generate(request: ContractorRequest): Promise<ContractorResult> {
    await Promise.resolve(); // what is active must hold across awaits, as in a real adapter
    this.requests.push(request);
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    this.carriers.push(carrier);
    this.suppressed.push(isTracingSuppressed(context.active()));
    this.activeSpans.push(trace.getSpanContext(context.active())?.traceId);
    return this.answer(request);
  }
}

function egressWith(adapter: ContractorAdapter, scrubber?: PromptScrubber): ContractorEgress {
  const adapters = { song: adapter, image: adapter, poem: adapter, text: adapter, video: adapter } satisfies Record<GenerationRpc.GenerationKind, ContractorAdapter>;
  return new ContractorEgress(adapters, scrubber);
}

const job = (overrides: Partial<ContractorJob> = {}): ContractorJob => ({ kind: 'poem', prompt: 'A poem about lemon trees for ana_lopez', options: {}, inputs: [], ...overrides });

async function failure(promise: Promise<unknown>): Promise<ContractorError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ContractorError);
  return error as ContractorError;
}

let tracing: TracingHandle | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
});

describe('ContractorEgress.dispatch', () => {
  it('sends the scrubbed prompt, the kind, the inputs and a fresh random job id — built field by field', async () => {
    const adapter = new RecordingAdapter();
    const egress = egressWith(adapter);
    const input = { mimeType: 'image/png', data: Buffer.from('png bytes'), uploadId: 'upload-1' };
    const leaky = { ...job({ inputs: [input] }), id: 'stored-job-id', userId: 'user-1', sessionId: 'session-1' } as ContractorJob;

    await egress.dispatch(leaky, identifiers, never);
    await egress.dispatch(leaky, identifiers, never);

    const [first, second] = adapter.requests;
    expect(Object.keys(first!).sort()).toEqual(['inputs', 'jobId', 'kind', 'options', 'prompt']);
    expect(first!.prompt).toBe('A poem about lemon trees for');
    expect(first!.kind).toBe('poem');
    expect(first!.inputs).toEqual([{ mimeType: 'image/png', data: input.data }]);
    expect(Object.keys(first!.inputs[0]!).sort()).toEqual(['data', 'mimeType']);
    expect(first!.jobId).toMatch(UUID_V4);
    expect(second!.jobId).toMatch(UUID_V4);
    expect(second!.jobId).not.toBe(first!.jobId);
  });

  it('lets only a plain `style` through the options', async () => {
    const adapter = new RecordingAdapter();
    const options = { style: 'formal-letter', userId: 'user-1', user: 'ana_lopez', temperature: 0.2 } as ContractorOptions;
    await egressWith(adapter).dispatch(job({ options }), identifiers, never);
    expect(adapter.requests[0]!.options).toEqual({ style: 'formal-letter' });
  });

  it.each([
    ['not a plain style name', 'Formal Letter!'],
    ['the username as a style', 'ana-lopez'],
  ])('refuses a style that is %s, and sends nothing', async (_case, style) => {
    const adapter = new RecordingAdapter();
    const error = await failure(egressWith(adapter).dispatch(job({ options: { style } }), identifiers, never));
    expect(error.code).toBe('anonymization_failed');
    expect(error.message).toMatch(/nothing was sent/);
    expect(adapter.requests).toHaveLength(0);
  });

  it('fails closed when the scrubber throws: anonymization_failed and the adapter is never called', async () => {
    class ThrowingScrubber extends PromptScrubber {
      override scrub(): string {
        throw new Error('analyzer crashed on ana_lopez');
      }
    }
    const adapter = new RecordingAdapter();
    const error = await failure(egressWith(adapter, new ThrowingScrubber()).dispatch(job(), identifiers, never));
    expect(error.code).toBe('anonymization_failed');
    expect(error.message).not.toMatch(/ana_lopez|crashed/);
    expect(adapter.requests).toHaveLength(0);
  });

  it.each([
    ['missing identifiers', job(), { email: '', username: 'ana_lopez' }],
    ['a prompt that is nothing but personal data', job({ prompt: 'ana_lopez  Ana.Lopez+test@example.com' }), identifiers],
    ['an input with an odd MIME type', job({ inputs: [{ mimeType: 'image/png; name="ana.png"', data: Buffer.from('x') }] }), identifiers],
    // A text upload is the user's own writing, never scrubbed (security review: it reached the contractor as it was).
    ['a text input', job({ inputs: [{ mimeType: 'text/plain', data: Buffer.from('Notes of ana_lopez, ana.lopez@example.com, +49 170 1234567') }] }), identifiers],
    ['a text input among images', job({ kind: 'image', inputs: [{ mimeType: 'image/webp', data: Buffer.from('x') }, { mimeType: 'text/markdown', data: Buffer.from('# ana_lopez') }] }), identifiers],
    ['a markup input labelled as an image', job({ kind: 'image', inputs: [{ mimeType: 'image/svg+xml', data: Buffer.from('<svg><text>ana_lopez</text></svg>') }] }), identifiers],
    ['an input that is not media', job({ inputs: [{ mimeType: 'application/json', data: Buffer.from('{"name":"ana_lopez"}') }] }), identifiers],
    ['a film as input of a poem', job({ kind: 'poem', inputs: [{ mimeType: 'video/mp4', data: Buffer.from('x') }] }), identifiers],
  ])('fails closed on %s', async (_case, request, who) => {
    const adapter = new RecordingAdapter();
    const error = await failure(egressWith(adapter).dispatch(request, who, never));
    expect(error.code).toBe('anonymization_failed');
    expect(adapter.requests).toHaveLength(0);
  });

  it('sends images to every kind, sound to songs and videos, film to videos', async () => {
    const adapter = new RecordingAdapter(() => ({ type: 'file', mimeType: 'video/mp4', data: Buffer.from('x') }));
    const inputs = [
      { mimeType: 'image/webp', data: Buffer.from('webp') },
      { mimeType: 'audio/mp4', data: Buffer.from('m4a') },
      { mimeType: 'video/mp4', data: Buffer.from('mp4') },
    ];
    await egressWith(adapter)
      .dispatch(job({ kind: 'video', inputs }), identifiers, never)
      .catch(() => undefined);
    expect(adapter.requests[0]!.inputs.map((input) => input.mimeType)).toEqual(['image/webp', 'audio/mp4', 'video/mp4']);
  });

  it('runs the adapter detached from the caller’s trace, with tracing suppressed', async () => {
    tracing = initTracing({ service: 'egress-test' });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerContext = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const adapter = new RecordingAdapter();

    const outside = await context.with(callerContext, async () => {
      await egressWith(adapter).dispatch(job(), identifiers, never);
      return injectTraceHeaders({});
    });

    // The caller's context does carry the trace (so this test can fail)…
    expect(outside.traceparent).toContain(traceId);
    // …and none of it reaches the adapter.
    expect(adapter.carriers[0]).toEqual({});
    expect(adapter.activeSpans[0]).toBeUndefined();
    expect(adapter.suppressed[0]).toBe(true);
  });

  it('times the dispatch in a span that starts a trace of its own, unlinked, naming no error text', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = initTracing({ service: 'egress-test', exporter });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerContext = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const failing = new RecordingAdapter(() => {
      throw new Error('ffmpeg -i lemon trees for ana_lopez failed');
    });

    await context.with(callerContext, async () => {
      await egressWith(new RecordingAdapter()).dispatch(job(), identifiers, never);
      await egressWith(failing).dispatch(job(), identifiers, never).catch(() => undefined);
    });

    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['contractor dispatch', 'contractor dispatch']);
    for (const span of spans) {
      expect(span.spanContext().traceId).not.toBe(traceId);
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.links).toEqual([]);
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes).toEqual({ 'generation.kind': 'poem', 'generation.adapter': 'local' });
    }
    expect(spans[0]!.spanContext().traceId).not.toBe(spans[1]!.spanContext().traceId);
    expect(spans[1]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'contractor_unavailable' });
    expect(JSON.stringify(spans.map((span) => [span.events, span.status]))).not.toMatch(/ana|lemon/);
  });

  it('checks every adapter’s result for the kind', async () => {
    const adapter = new RecordingAdapter(() => ({ type: 'file', mimeType: 'image/png', data: Buffer.from('not a png') }));
    const egress = egressWith(adapter);
    expect((await failure(egress.dispatch(job({ kind: 'poem' }), identifiers, never))).code).toBe('invalid_result');
    expect((await failure(egress.dispatch(job({ kind: 'image' }), identifiers, never))).code).toBe('invalid_result');
  });

  it('passes a ContractorError on and hides any other adapter error’s text', async () => {
    const rejecting = new RecordingAdapter(() => {
      throw new ContractorError('contractor_rejected', 'the contractor refused the request (400)');
    });
    expect((await failure(egressWith(rejecting).dispatch(job(), identifiers, never))).code).toBe('contractor_rejected');

    const crashing = new RecordingAdapter(() => {
      throw new Error('ffmpeg: invalid argument "A poem about lemon trees"');
    });
    const error = await failure(egressWith(crashing).dispatch(job(), identifiers, never));
    expect(error.code).toBe('contractor_unavailable');
    expect(error.message).not.toMatch(/lemon|ffmpeg/);
  });

  it('rejects with the caller’s reason when the caller aborts', async () => {
    const controller = new AbortController();
    const adapter = new RecordingAdapter(async () => {
      controller.abort(new Error('shutting down'));
      return Promise.reject(new Error('aborted inside'));
    });
    await expect(egressWith(adapter).dispatch(job(), identifiers, controller.signal)).rejects.toThrow('shutting down');
  });
});

describe('ContractorEgress.fromConfig', () => {
  const logger = createLogger({ service: 'egress-test', level: 'silent' });
  const base = {
    CONTRACTOR_URL: 'http://127.0.0.1:9/',
    CONTRACTOR_API_KEY: 'test-key',
    CONTRACTOR_TIMEOUT_MS: 1000,
    CONTRACTOR_MAX_RESPONSE_MB: 1,
    CONTRACTOR_RETRIES: 0,
    CONTRACTOR_RETRY_BASE_MS: 10,
    CONTRACTOR_BREAKER_FAILURES: 5,
    CONTRACTOR_BREAKER_OPEN_MS: 1000,
  };

  it('chooses the adapter per kind, local by default', () => {
    const egress = ContractorEgress.fromConfig({ ...base, CONTRACTOR_ADAPTERS: { poem: 'http', text: 'http', image: 'local', song: 'local', video: 'local' } }, logger);
    expect(GenerationKinds.map((kind) => egress.adapterFor(kind))).toEqual(['local', 'local', 'http', 'http', 'local']);
    egress.close();
  });
});

const GenerationKinds: GenerationRpc.GenerationKind[] = ['song', 'image', 'poem', 'text', 'video'];

describe('ContractorEgress.dispatch: the prompt bound', () => {
  it('keeps the prompt bound by default and takes a conversation up to its own bound only when asked', async () => {
    const adapter = new RecordingAdapter();
    const egress = egressWith(adapter);
    const long = 'a'.repeat(MAX_SCRUB_CHARS + 1);
    expect((await failure(egress.dispatch(job({ kind: 'text', prompt: long }), identifiers, never))).code).toBe('anonymization_failed');
    expect((await failure(egress.dispatch(job({ kind: 'text', prompt: long, promptLimit: 'prompt' }), identifiers, never))).code).toBe('anonymization_failed');
    await egress.dispatch(job({ kind: 'text', prompt: long, promptLimit: 'conversation' }), identifiers, never);
    expect(adapter.requests).toHaveLength(1);
    const tooLong = 'a'.repeat(MAX_CONVERSATION_SCRUB_CHARS + 1);
    expect((await failure(egress.dispatch(job({ kind: 'text', prompt: tooLong, promptLimit: 'conversation' }), identifiers, never))).code).toBe('anonymization_failed');
    expect(adapter.requests).toHaveLength(1);
  });

  it('sends a conversation as text alone, and refuses a bound it does not know', async () => {
    const adapter = new RecordingAdapter();
    const egress = egressWith(adapter);
    const image = { mimeType: 'image/png', data: Buffer.from('png') };
    for (const bad of [
      job({ kind: 'poem', promptLimit: 'conversation' }),
      job({ kind: 'text', promptLimit: 'conversation', inputs: [image] }),
      job({ kind: 'text', promptLimit: 'unbounded' as never }),
      job({ kind: 'text', promptLimit: 'toString' as never }),
    ]) {
      expect((await failure(egress.dispatch(bad, identifiers, never))).code).toBe('anonymization_failed');
    }
    expect(adapter.requests).toEqual([]);
  });
});

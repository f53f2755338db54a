import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { GenerationRpc } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import { acceptsInput, inputKindOf } from '../domain/input-kinds.js';
import { ContractorError, type ContractorAdapter, type ContractorInput, type ContractorOptions, type ContractorRequest, type ContractorResult } from './contractor.js';
import type { AdapterName, ContractorConfig } from './contractor-config.js';
import { checkResult } from './contractor-result.js';
import { HttpContractor } from './http-contractor.js';
import { LocalContractor, type LocalContractorOptions } from './local/local-contractor.js';
import { MAX_CONVERSATION_SCRUB_CHARS, MAX_SCRUB_CHARS, PromptScrubber, type UserIdentifiers } from './scrubber.js';

/** What the job asks for, before anonymization. */
export interface ContractorJob {
  readonly kind: GenerationRpc.GenerationKind;
  readonly prompt: string;
  readonly options: ContractorOptions;
  readonly inputs: readonly ContractorInput[];
  /**
   * How long the prompt may be once normalised: a generation prompt's (the default) or a chat
   * conversation's (`conversation`: a `text` dispatch without inputs only). A named bound
   * rather than a number, so no caller can hand the scrubber an unbounded text.
   */
  readonly promptLimit?: PromptLimit;
}

export type PromptLimit = 'prompt' | 'conversation';
const PROMPT_LIMITS: Readonly<Record<PromptLimit, number>> = { prompt: MAX_SCRUB_CHARS, conversation: MAX_CONVERSATION_SCRUB_CHARS };

export type { UserIdentifiers } from './scrubber.js';

const STYLE = /^[a-z][a-z0-9-]{0,39}$/;
const MIME_TYPE = /^[a-z]+\/[a-z0-9][a-z0-9.+-]{0,99}$/;

/**
 * The one way out to AI contractors (R4.2, policy §7.2, §8.1). Nothing else in the service
 * holds an adapter, and lint forbids network clients elsewhere in it.
 *
 * What leaves: the kind, the scrubbed prompt, the allow-listed options (`style` only), the
 * inputs' MIME types and bytes (already transformed by media), and a job id drawn fresh for
 * each dispatch — never the stored job's id, so a provider cannot link two dispatches or a
 * result to an account. Nothing else from the job or the caller is copied: the request is
 * built field by field, not spread.
 *
 * It fails closed: when the prompt or an option cannot be shown to be anonymous, or an
 * input is not media the kind takes (text, markup, anything but an image, sound or film:
 * domain/input-kinds.ts — a text upload would carry the user's writing unscrubbed), the
 * dispatch fails with `anonymization_failed` before any adapter is called. Create-generation
 * refuses such inputs already; this is the check that holds whatever reaches a job.
 *
 * The adapter runs in a detached, tracing-suppressed OpenTelemetry context: whatever trace
 * the job belongs to ends here, so no client instrumentation can put a `traceparent`,
 * `tracestate` or `baggage` on the way out. The dispatch is timed by a span of its own that
 * starts a new trace and has no link to the job's: were an egress trace id ever to leave
 * (a future instrumented client), even our own collector could not join it to the user's
 * request. It says only the kind, the adapter and the outcome code.
 */
export class ContractorEgress {
  constructor(
    private readonly adapters: Readonly<Record<GenerationRpc.GenerationKind, ContractorAdapter>>,
    private readonly scrubber: PromptScrubber = new PromptScrubber(),
    private readonly logger?: Logger,
  ) {}

  /** One adapter per kind as CONTRACTOR_ADAPTERS says (one shared `http` adapter, so one circuit breaker). */
  static fromConfig(config: ContractorConfig, logger: Logger, local: LocalContractorOptions = {}): ContractorEgress {
    const localContractor = new LocalContractor(local);
    let httpContractor: HttpContractor | undefined;
    const http = (): HttpContractor => {
      if (!config.CONTRACTOR_URL || !config.CONTRACTOR_API_KEY) throw new Error('CONTRACTOR_URL and CONTRACTOR_API_KEY are required for the http adapter');
      httpContractor ??= new HttpContractor({
        url: config.CONTRACTOR_URL,
        apiKey: config.CONTRACTOR_API_KEY,
        timeoutMs: config.CONTRACTOR_TIMEOUT_MS,
        maxResponseBytes: Math.round(config.CONTRACTOR_MAX_RESPONSE_MB * 1024 * 1024),
        retries: config.CONTRACTOR_RETRIES,
        retryBaseMs: config.CONTRACTOR_RETRY_BASE_MS,
        breakerFailures: config.CONTRACTOR_BREAKER_FAILURES,
        breakerOpenMs: config.CONTRACTOR_BREAKER_OPEN_MS,
        logger,
      });
      return httpContractor;
    };
    const adapters = {} as Record<GenerationRpc.GenerationKind, ContractorAdapter>;
    for (const kind of GenerationRpc.GenerationKind.options) adapters[kind] = config.CONTRACTOR_ADAPTERS[kind] === 'http' ? http() : localContractor;
    return new ContractorEgress(adapters, new PromptScrubber(), logger);
  }

  /** `local` or `http`: for metric labels and log lines (which never carry prompt text). */
  adapterFor(kind: GenerationRpc.GenerationKind): AdapterName {
    return this.adapterOf(kind).name;
  }

  /**
   * Anonymizes the job, sends it through the kind's adapter and returns a result that was
   * checked for the kind (type, size, bytes matching the MIME type). Failures are
   * ContractorErrors whose messages name no personal data; an abort of `signal` rejects
   * with its reason.
   */
  async dispatch(job: ContractorJob, identifiers: UserIdentifiers, signal: AbortSignal): Promise<ContractorResult> {
    const adapter = this.adapterOf(job.kind);
    const request = this.anonymize(job, identifiers);
    signal.throwIfAborted();
    let result: ContractorResult;
    const span = trace
      .getTracer('contractor-egress')
      .startSpan('contractor dispatch', { kind: SpanKind.CLIENT, root: true, attributes: { 'generation.kind': job.kind, 'generation.adapter': adapter.name } }, ROOT_CONTEXT);
    try {
      result = await context.with(suppressTracing(ROOT_CONTEXT), () => adapter.generate(request, signal));
    } catch (error) {
      // The status names a code, never the error's text (see below).
      span.setStatus({ code: SpanStatusCode.ERROR, message: signal.aborted ? 'aborted' : error instanceof ContractorError ? error.code : 'contractor_unavailable' });
      if (signal.aborted) throw signal.reason;
      if (error instanceof ContractorError) throw error;
      // An adapter's own error text may quote what it was given (ffmpeg echoes arguments): it is not passed on or logged.
      this.logger?.error({ adapter: adapter.name, kind: job.kind, errorName: error instanceof Error ? error.name : typeof error }, 'contractor adapter failed');
      throw new ContractorError('contractor_unavailable', 'the contractor failed to produce a result');
    } finally {
      span.end();
    }
    return checkResult(job.kind, result);
  }

  /** Closes the http adapter's idle connections (service shutdown). */
  close(): void {
    for (const adapter of new Set(Object.values(this.adapters))) {
      if (adapter instanceof HttpContractor) adapter.close();
    }
  }

  private adapterOf(kind: GenerationRpc.GenerationKind): ContractorAdapter {
    const adapter = GenerationRpc.GenerationKind.safeParse(kind).success ? this.adapters[kind] : undefined;
    if (!adapter) throw new ContractorError('contractor_unavailable', 'no contractor handles this kind');
    return adapter;
  }

  /** The request as it may leave, built field by field; throws `anonymization_failed` before anything is sent. */
  private anonymize(job: ContractorJob, identifiers: UserIdentifiers): ContractorRequest {
    if (typeof identifiers?.email !== 'string' || typeof identifiers.username !== 'string' || identifiers.email === '' || identifiers.username === '') {
      throw anonymizationFailed("the user's identifiers are missing, so the prompt cannot be checked");
    }
    const limitName = job.promptLimit ?? 'prompt';
    const limit = Object.hasOwn(PROMPT_LIMITS, limitName) ? PROMPT_LIMITS[limitName] : undefined;
    if (limit === undefined) throw anonymizationFailed('the prompt bound is not one the scrubber knows');
    if (limitName === 'conversation' && (job.kind !== 'text' || job.inputs.length > 0)) throw anonymizationFailed('a conversation is sent as text alone');
    let prompt: string;
    try {
      prompt = this.scrubber.scrub(job.prompt, identifiers, limit);
    } catch {
      throw anonymizationFailed('the prompt could not be anonymized');
    }
    if (prompt.length === 0) throw anonymizationFailed('nothing is left of the prompt once personal data is removed');
    return {
      jobId: randomUUID(),
      kind: job.kind,
      prompt,
      options: this.allowedOptions(job.options, identifiers),
      inputs: job.inputs.map((input) => {
        if (!MIME_TYPE.test(input.mimeType) || !Buffer.isBuffer(input.data)) throw anonymizationFailed('an input is not a plain typed file');
        const kind = inputKindOf(input.mimeType);
        if (!kind || !acceptsInput(job.kind, kind)) throw anonymizationFailed('an input is not an image, sound or film this kind takes');
        return { mimeType: input.mimeType, data: input.data };
      }),
    };
  }

  private allowedOptions(options: ContractorOptions, identifiers: UserIdentifiers): ContractorOptions {
    const style = options.style;
    if (style === undefined) return {};
    if (!STYLE.test(style)) throw anonymizationFailed('the style option is not a plain style name');
    try {
      // A style that spells the username would carry it out as well as a prompt would.
      this.scrubber.assertAnonymous(style, identifiers);
    } catch {
      throw anonymizationFailed('the style option could not be anonymized');
    }
    return { style };
  }
}

function anonymizationFailed(reason: string): ContractorError {
  return new ContractorError('anonymization_failed', `${reason}; nothing was sent`);
}

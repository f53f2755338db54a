import type { GenerationRpc } from '@homiwork/contracts';

/**
 * The seam between the generation service and the AI contractors (R4.2, R4.3, §7.2).
 * Everything that crosses it is already anonymized by the ContractorEgress — the only
 * caller of an adapter — so an adapter never sees a user id, email, username, upload or
 * content id, session, address (hash) or trace context.
 */

/** An input file: the transformed bytes media stored (metadata already stripped), never the original. */
export interface ContractorInput {
  readonly mimeType: string;
  readonly data: Buffer;
}

/** Generation options a contractor may use; values are plain and carry no identifier. */
export interface ContractorOptions {
  /** A style hint such as `formal-letter`, `greeting`, `marketing` (the request's assistantStyle). */
  readonly style?: string;
}

/** What goes out: a fresh random job id per dispatch, never the stored job's id. */
export interface ContractorRequest {
  readonly jobId: string;
  readonly kind: GenerationRpc.GenerationKind;
  readonly prompt: string;
  readonly options: ContractorOptions;
  readonly inputs: readonly ContractorInput[];
}

export type ContractorResult = { readonly type: 'file'; readonly mimeType: string; readonly data: Buffer } | { readonly type: 'text'; readonly text: string };

export interface ContractorAdapter {
  /** `local` (in process) or `http` (a provider at CONTRACTOR_URL); chosen per kind by CONTRACTOR_ADAPTERS. */
  readonly name: 'local' | 'http';
  generate(request: ContractorRequest, signal: AbortSignal): Promise<ContractorResult>;
}

export type ContractorErrorCode =
  /** Scrubbing failed: nothing was sent (fail closed). */
  | 'anonymization_failed'
  | 'contractor_unavailable'
  | 'contractor_timeout'
  | 'contractor_rejected'
  | 'invalid_result';

/** A dispatch that did not produce a result. Its message names no personal data: it becomes the job's error. */
export class ContractorError extends Error {
  override readonly name = 'ContractorError';
  constructor(
    readonly code: ContractorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

import type { GenerationRpc } from '@homiwork/contracts';

export type JobStatus = GenerationRpc.GenerationStatus;

/**
 * A job's life: `queued` (reserved or not yet) → `running` (claimed under a lease) →
 * `succeeded` | `failed`. A queued job fails when its reservation does; a running job
 * whose lease lapsed (its process died) is claimed again, `running` → `running`. The two
 * ends are final: nothing leaves them, so a late or repeated writer changes nothing and
 * GenerationFinished — billing's commit or refund — is announced exactly once.
 */
const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'failed'],
  running: ['running', 'succeeded', 'failed'],
  succeeded: [],
  failed: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The states a job may reach `to` from: what the repository's conditional UPDATEs match on. */
export function sourcesOf(to: JobStatus): JobStatus[] {
  return (Object.keys(TRANSITIONS) as JobStatus[]).filter((from) => canTransition(from, to));
}

export function isFinal(status: JobStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/**
 * Why a job failed, as the user sees it (`GET /v1/generations/:id` → `error`). A closed
 * set with fixed messages: nothing a contractor, a peer or the input said is passed on,
 * so no personal data can reach the job record through an error.
 */
export const JOB_FAILURES = {
  reservation_failed: 'energy could not be reserved for this job; nothing was charged',
  identifiers_unavailable: 'the request could not be anonymized, so nothing was sent; nothing was charged',
  upload_not_found: 'an input upload is no longer available; nothing was charged',
  upload_unavailable: 'an input upload could not be read; nothing was charged',
  input_too_large: 'the input uploads are too large to send together; nothing was charged',
  anonymization_failed: 'the request could not be anonymized, so nothing was sent; nothing was charged',
  contractor_unavailable: 'the generation provider is unavailable; nothing was charged',
  contractor_timeout: 'the generation provider did not answer in time; nothing was charged',
  contractor_rejected: 'the generation provider refused the request; nothing was charged',
  invalid_result: 'the generation provider returned an unusable result; nothing was charged',
  content_rejected: 'the result cannot be delivered under the service rules; nothing was charged',
  storage_failed: 'the result could not be stored; nothing was charged',
  attempts_exhausted: 'the job was interrupted too many times; nothing was charged',
  processing_restricted: 'a restriction of processing or an objection you made came into force (§9) before this job ran, so nothing was sent; nothing was charged',
  internal_error: 'the job failed; nothing was charged',
} as const;

export type JobFailureCode = keyof typeof JOB_FAILURES;

/** Thrown inside a job's run to end it as failed with that code. */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';
  constructor(readonly code: JobFailureCode) {
    super(JOB_FAILURES[code]);
  }
}

export function isJobFailureCode(code: string): code is JobFailureCode {
  return Object.hasOwn(JOB_FAILURES, code);
}

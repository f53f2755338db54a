import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import { Clock } from '@homiwork/clock';
import { ContentCreatedV1, GenerationFinishedV1, IdentityRpc, ProhibitedContentDetectedV1 } from '@homiwork/contracts';
import { EventsOutbox, RpcClient } from '@homiwork/messaging';
import { Moderator, moderationDHash, type ModerationVerdict } from '@homiwork/moderation';
import { extractTraceContext, withSpan, type Logger } from '@homiwork/observability';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { GenerationConfig } from '../../config.js';
import { ContractorError, type ContractorInput, type ContractorResult } from '../../contractor/contractor.js';
import { ContractorEgress } from '../../contractor/egress.js';
import { contentExpiresAt, expiryPlan } from '../../domain/content-retention.js';
import { isJobFailureCode, JobFailure, type JobFailureCode } from '../../domain/job-state.js';
import { GenerationMetrics } from '../../generation-metrics.js';
import { MediaUploads } from '../../media/media-uploads.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';
import { JobsRepository, type Job } from '../../persistence/jobs.repository.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';
import { ProcessingRestrictionsRepository } from '@homiwork/persistence';
import { FailJob } from '../fail-job/fail-job.usecase.js';

/** Why the runner aborted a run: the service is stopping, or another runner took the job over. */
export const ABORT = { shutdown: 'shutdown', leaseLost: 'lease_lost' } as const;

/**
 * How a run ended: `succeeded`, a failure code, `released` (given back at shutdown, to run
 * again at once elsewhere), or `superseded` (another claim or the user's erasure ended it;
 * this run wrote nothing).
 */
export type RunOutcome = 'succeeded' | JobFailureCode | 'released' | 'superseded';

export interface RunReport {
  outcome: RunOutcome;
  /** Milliseconds inside the contractor egress, and of the whole run. */
  dispatchMs: number;
  totalMs: number;
}

/** A result as it is stored: text becomes UTF-8 `text/plain`. */
interface ResultFile {
  mimeType: string;
  data: Buffer;
  text?: string;
}

/** What each kind must come back as; anything else is an unusable result. */
const EXPECTED: Record<Job['kind'], RegExp> = { poem: /^text\/plain;/, text: /^text\/plain;/, image: /^image\//, song: /^audio\//, video: /^video\// };
const MEDIA_TYPE = /^[a-z]+\/[a-z0-9][a-z0-9.+-]{0,63}$/;

/**
 * R4.1–R4.4, §7.2: one claimed job, start to end. The identifiers the egress must scrub
 * come from identity for this run only (failure fails the job closed: nothing is sent
 * unscrubbed); input uploads are media's transformed bytes; the egress is the only way
 * out; the result is moderated before it is stored (text rules on text, the dHash
 * block-list on images). Then the object is put and ONE transaction, committed only once
 * the object is there, records the content (its expiry by the retention rule), ends the
 * job (prompt gone) and announces ContentCreated and GenerationFinished(succeeded) — if
 * that transaction does not commit, the object is removed again. Any failure ends the job `failed` with a fixed code and
 * message and GenerationFinished(failed), which refunds the reservation.
 *
 * A restriction or objection in force (R7.3) is checked again when the job runs — at the
 * start and just before dispatch — since it may have come into force after the job was
 * queued: the job fails `processing_restricted` (refunded) and nothing is sent.
 *
 * Every write is fenced by the claim's attempt number: a run whose job another runner took
 * over (its lease lapsed) writes nothing, so a job yields one result and one charge.
 */
@Injectable()
export class RunJob {
  constructor(
    private readonly transactor: Transactor,
    private readonly jobs: JobsRepository,
    private readonly contents: ContentsRepository,
    private readonly prime: PrimeStatusRepository,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    private readonly moderator: Moderator,
    private readonly media: MediaUploads,
    private readonly rpc: RpcClient,
    private readonly egress: ContractorEgress,
    private readonly failJob: FailJob,
    private readonly metrics: GenerationMetrics,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Up to `limit` jobs for this runner: reserved queued ones and those whose lease lapsed. */
  claim(limit: number): Promise<Job[]> {
    const now = this.clock.now();
    return this.jobs.claim(now, this.leaseEnd(now), limit);
  }

  /** Keeps the claim alive while the run goes on; false when the job is no longer this claim's. */
  renew(job: Job): Promise<boolean> {
    return this.jobs.renewLease(job.id, job.attempts, this.leaseEnd(this.clock.now()));
  }

  async execute(job: Job, signal: AbortSignal): Promise<RunReport> {
    const started = performance.now();
    const timing = { dispatchMs: 0 };
    // The run continues the trace of the request that queued the job (one whose row has none starts its own).
    const outcome = await withSpan(
      'generation job',
      { kind: SpanKind.CONSUMER, parent: extractTraceContext({ traceparent: job.traceParent ?? undefined }), attributes: { 'generation.kind': job.kind, 'generation.attempt': job.attempts } },
      async (span) => {
        let ended: RunOutcome;
        try {
          ended = await this.run(job, signal, timing);
        } catch (error) {
          ended = await this.ended(job, error, signal);
        }
        span.setAttribute('generation.outcome', ended);
        return ended;
      },
    );
    const report = { outcome, dispatchMs: timing.dispatchMs, totalMs: performance.now() - started };
    this.record(job, report);
    return report;
  }

  private async run(job: Job, signal: AbortSignal, timing: { dispatchMs: number }): Promise<RunOutcome> {
    if (job.attempts > this.config.GENERATION_MAX_ATTEMPTS) throw new JobFailure('attempts_exhausted');
    if (job.prompt === null) throw new JobFailure('internal_error');
    await this.notRestricted(job);
    const identifiers = await this.identifiersOf(job);
    const inputs: ContractorInput[] = [];
    // One budget for all of the job's inputs (GENERATION_MAX_INPUT_MB), not one per input.
    let budget = this.config.GENERATION_MAX_INPUT_MB;
    for (const uploadId of job.uploadIds) {
      const input = await this.media.read(uploadId, { requestId: job.id, userId: job.userId }, signal, budget);
      budget -= input.data.length;
      inputs.push(input);
    }

    // Again at the last moment: a restriction may have come into force while the inputs were read.
    await this.notRestricted(job);
    const dispatched = performance.now();
    let result: ContractorResult;
    try {
      result = await this.egress.dispatch({ kind: job.kind, prompt: job.prompt, options: job.style ? { style: job.style } : {}, inputs }, identifiers, signal);
    } finally {
      timing.dispatchMs = performance.now() - dispatched;
    }
    signal.throwIfAborted();

    const file = this.asFile(job, result);
    const verdict = await this.moderate(file);
    if (!verdict.allowed) return this.rejected(job, verdict.rule);
    return this.storeResult(job, file);
  }

  /**
   * R7.3: a restriction or objection that came into force after the job was queued (the
   * mirror of retention's ProcessingRestrictionChanged) stops it before anything of the
   * user's is read or sent: the job fails `processing_restricted`, refunded as any failure.
   */
  private async notRestricted(job: Job): Promise<void> {
    if (await this.restrictions.isRestricted(job.userId)) throw new JobFailure('processing_restricted');
  }

  /** The user's email and username, for the scrubber of this one dispatch; never stored or logged. */
  private async identifiersOf(job: Job): Promise<{ email: string; username: string }> {
    try {
      return await this.rpc.call(IdentityRpc.GetIdentifiersRoute, { userId: job.userId }, { requestId: job.id, userId: job.userId });
    } catch (error) {
      this.logger.warn({ err: error, jobId: job.id }, 'identifiers unavailable; the job fails closed');
      throw new JobFailure('identifiers_unavailable');
    }
  }

  private asFile(job: Job, result: ContractorResult): ResultFile {
    const file: ResultFile =
      result.type === 'text' ? { mimeType: 'text/plain; charset=utf-8', data: Buffer.from(result.text, 'utf8'), text: result.text } : { mimeType: result.mimeType.toLowerCase(), data: result.data };
    const valid = file.data.length > 0 && EXPECTED[job.kind].test(file.mimeType) && (result.type === 'text' || MEDIA_TYPE.test(file.mimeType));
    if (!valid) throw new JobFailure('invalid_result');
    return file;
  }

  /** R3.5 for results: text against the text rules, images against the block-list. Audio and video have no check yet (as for uploads). */
  private async moderate(file: ResultFile): Promise<ModerationVerdict> {
    if (file.text !== undefined) return this.moderator.text(file.text);
    if (!file.mimeType.startsWith('image/')) return { allowed: true };
    let dHash: bigint;
    try {
      dHash = await moderationDHash(file.data);
    } catch {
      throw new JobFailure('invalid_result');
    }
    return this.moderator.image(dHash);
  }

  /** Nothing is stored; the event names the rule only, never the result (§12.2). */
  private async rejected(job: Job, rule: string): Promise<RunOutcome> {
    const ended = await this.transactor
      .run(async () => {
        await this.tombstones.guard(job.userId);
        const now = this.clock.now();
        const failed = await this.jobs.finishFailed(job.id, { code: 'content_rejected', message: failureMessage('content_rejected') }, now, { attempt: job.attempts });
        if (!failed) return false;
        await this.outbox.append(ProhibitedContentDetectedV1, { userId: job.userId, subjectKind: 'generated', rule, detectedAt: now.toISOString() });
        await this.outbox.append(GenerationFinishedV1, { userId: job.userId, jobId: job.id, purpose: job.kind, outcome: 'failed', finishedAt: now.toISOString() });
        return true;
      })
      .catch((error: unknown) => {
        if (error instanceof UserErased) return false;
        throw error;
      });
    return ended ? 'content_rejected' : 'superseded';
  }

  private async storeResult(job: Job, file: ResultFile): Promise<RunOutcome> {
    // A user erased while the job ran gets no object at all. The guard in the transaction
    // below is what makes it certain; this keeps the common case from writing under a prefix
    // the purge has already emptied (ContentSweeper's late-object pass clears what a race leaves).
    if (await this.tombstones.isErased(job.userId)) return 'superseded';
    const contentId = randomUUID();
    const key = this.store.keyFor(job.userId, contentId);
    // The object goes up while the transaction that records it runs its statements; the
    // commit waits for it, so no committed row ever names an object that is not there.
    const put = this.store.put(job.userId, contentId, file.data, { contentType: file.mimeType, size: file.data.length }).then(
      () => true,
      (error: unknown) => {
        this.logger.error({ err: error, jobId: job.id }, 'storing a generated result failed');
        return false;
      },
    );
    let stored: boolean;
    try {
      stored = await this.transactor.run(async () => {
        await this.tombstones.guard(job.userId);
        await this.prime.lockForNewContent(job.userId);
        const now = this.clock.now();
        if (!(await this.jobs.finishSucceeded(job.id, job.attempts, contentId, now))) return false;
        const expiresAt = contentExpiresAt(now, expiryPlan(await this.prime.find(job.userId)), this.config.CONTENT_RETENTION_DAYS);
        await this.contents.insert({
          id: contentId,
          userId: job.userId,
          jobId: job.id,
          kind: job.kind,
          mimeType: file.mimeType,
          bytes: file.data.length,
          objectKey: key,
          sourceUploadIds: job.uploadIds,
          createdAt: now,
          expiresAt,
          deletedAt: null,
        });
        await this.outbox.append(ContentCreatedV1, { userId: job.userId, contentId, kind: job.kind, sourceUploadIds: job.uploadIds, createdAt: now.toISOString() });
        await this.outbox.append(GenerationFinishedV1, { userId: job.userId, jobId: job.id, purpose: job.kind, outcome: 'succeeded', finishedAt: now.toISOString() });
        if (!(await put)) throw new JobFailure('storage_failed');
        return true;
      });
    } catch (error) {
      await put;
      await this.removeObject(job, key);
      if (error instanceof UserErased) return 'superseded';
      throw error;
    }
    if (!stored) {
      await put;
      await this.removeObject(job, key);
      return 'superseded';
    }
    return 'succeeded';
  }

  /** A run that did not end in success: given back at shutdown, silent when superseded, failed otherwise. */
  private async ended(job: Job, error: unknown, signal: AbortSignal): Promise<RunOutcome> {
    if (signal.aborted && signal.reason === ABORT.shutdown) {
      await this.jobs.release(job.id, job.attempts, this.clock.now());
      return 'released';
    }
    if (signal.aborted && signal.reason === ABORT.leaseLost) return 'superseded';
    const code = failureCodeOf(error);
    if (code === 'internal_error') this.logger.error({ err: error, jobId: job.id }, 'generation job failed unexpectedly');
    const ended = await this.failJob.execute(job, code, { attempt: job.attempts });
    return ended ? code : 'superseded';
  }

  private async removeObject(job: Job, key: string): Promise<void> {
    // Left behind, the object is still under the user's prefix, where erasure finds it — or,
    // if the user was erased meanwhile, ContentSweeper's pass over recently erased prefixes.
    await this.store.remove([key]).catch((error: unknown) => this.logger.error({ err: error, jobId: job.id }, 'an unrecorded result could not be removed'));
  }

  private record(job: Job, report: RunReport): void {
    if (report.outcome === 'released' || report.outcome === 'superseded') return;
    const adapter = this.egress.adapterFor(job.kind);
    this.metrics.jobs.inc({ kind: job.kind, adapter, outcome: report.outcome });
    if (report.dispatchMs > 0) this.metrics.jobSeconds.observe({ kind: job.kind, adapter, phase: 'dispatch' }, report.dispatchMs / 1000);
    this.metrics.jobSeconds.observe({ kind: job.kind, adapter, phase: 'overhead' }, (report.totalMs - report.dispatchMs) / 1000);
  }

  private leaseEnd(now: Date): Date {
    return new Date(now.getTime() + this.config.GENERATION_LEASE_MS);
  }
}

function failureCodeOf(error: unknown): JobFailureCode {
  if (error instanceof JobFailure) return error.code;
  if (error instanceof ContractorError && isJobFailureCode(error.code)) return error.code;
  return 'internal_error';
}

function failureMessage(code: JobFailureCode): string {
  return new JobFailure(code).message;
}

import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { BillingRpc, GenerationRpc, ProhibitedContentDetectedV1, type CallerContext, type MediaRpc } from '@homiwork/contracts';
import { Moderator } from '@homiwork/moderation';
import { EventsOutbox, RpcClient, RpcError } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { acceptsInput, INPUT_KINDS } from '../../domain/input-kinds.js';
import { GenerationErrors } from '../../generation-errors.js';
import { MediaUploads } from '../../media/media-uploads.js';
import { JobsRepository } from '../../persistence/jobs.repository.js';
import { ProcessingRestrictionsRepository } from '@homiwork/persistence';
import { FailJob } from '../fail-job/fail-job.usecase.js';
import { JobWakeup } from '../run-job/job-wakeup.js';

/**
 * R4.1, R4.4: a generation request becomes a queued, reserved job — or nothing at all.
 *
 * 0. A prompt longer than MAX_PROMPT_CHARS once in NFKC (the form the scrubber works on:
 *    one `㌖` is six letters) is refused, 400 naming `prompt`.
 * 1. The uploads it names must be the caller's own live uploads (media answers as the
 *    caller; 404 `upload_not_found` naming the position), of a kind the generation takes
 *    (domain/input-kinds.ts: never text, which would reach the contractor unscrubbed; 422
 *    `unsupported_input` naming the position), and together no larger than
 *    GENERATION_MAX_INPUT_MB by media's sizes (422 `inputs_too_large`), so a job never
 *    holds — and base64-expands for a provider — more than that.
 * 2. The prompt is moderated; a prohibited one is refused (422), announced as
 *    ProhibitedContentDetected (rule code only) and nothing else is stored.
 * 3. The job is inserted `queued`, then billing reserves its price under the job's id.
 *    402 passes through and the job row goes (as if never asked). Any other failure ends
 *    the job `failed` with GenerationFinished(failed), so a reservation that did happen
 *    after all (a time-out) is refunded, and answers 503. A crash between insert and
 *    reservation leaves a job the sweep fails the same way (FailAbandonedJobs).
 * R7.3: while a restriction of processing or an objection is in force (the mirror of
 * retention's ProcessingRestrictionChanged) the request is refused, 403
 * `processing_restricted`, before anything is stored or reserved.
 * 4. Reserved: the job is marked so (the runner claims only reserved jobs), the runner is
 *    woken, and the answer is 202 {id, status, cost}.
 */
@Injectable()
export class CreateGeneration {
  constructor(
    private readonly transactor: Transactor,
    private readonly jobs: JobsRepository,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly moderator: Moderator,
    private readonly media: MediaUploads,
    private readonly rpc: RpcClient,
    private readonly failJob: FailJob,
    private readonly wakeup: JobWakeup,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(request: GenerationRpc.CreateGenerationRequest, caller: CallerContext): Promise<{ id: string; status: 'queued'; cost: number }> {
    const userId = caller.userId;
    if (!userId) throw GenerationErrors.unauthenticated();
    if (request.prompt.normalize('NFKC').length > GenerationRpc.MAX_PROMPT_CHARS) throw GenerationErrors.promptTooLong(GenerationRpc.MAX_PROMPT_CHARS);
    // Early and cheap; the guard at each write is what makes it certain.
    if (await this.tombstones.isErased(userId)) throw GenerationErrors.accountDeleted();
    // R7.3: a restriction or objection in force — refused before anything is checked, stored or reserved.
    if (await this.restrictions.isRestricted(userId)) throw GenerationErrors.processingRestricted();
    const uploadIds = [...new Set(request.uploadIds ?? [])];
    await this.checkUploads(request.kind, request.uploadIds ?? [], caller);

    const verdict = await this.moderator.text(request.prompt);
    if (!verdict.allowed) {
      await this.guarded(userId, () => this.outbox.append(ProhibitedContentDetectedV1, { userId, subjectKind: 'prompt', rule: verdict.rule, detectedAt: this.clock.now().toISOString() }));
      throw GenerationErrors.promptRejected();
    }

    const job = { id: randomUUID(), userId };
    await this.guarded(userId, () =>
      this.jobs.insert({ ...job, kind: request.kind, prompt: request.prompt, uploadIds, style: request.assistantStyle ?? null, createdAt: this.clock.now() }),
    );
    const cost = await this.reserve(job, request.kind, caller);
    const reserved = await this.guarded(userId, () => this.jobs.markReserved(job.id, cost, this.clock.now()));
    // The sweep failed the job while billing was answering (only if billing took longer than
    // GENERATION_UNRESERVED_AFTER_MS); it announced the failure, so the reservation is refunded.
    if (!reserved) throw GenerationErrors.reservationFailed();
    this.wakeup.notify();
    return { id: job.id, status: 'queued', cost };
  }

  private async checkUploads(kind: GenerationRpc.GenerationKind, uploadIds: readonly string[], caller: CallerContext): Promise<void> {
    if (uploadIds.length === 0) return;
    let uploads: Array<MediaRpc.Upload | undefined>;
    try {
      uploads = await this.media.describe(uploadIds, caller);
    } catch (error) {
      this.logger.warn({ err: error, requestId: caller.requestId }, 'uploads of a generation request could not be checked');
      throw GenerationErrors.uploadsUnavailable();
    }
    const missing = uploads.indexOf(undefined);
    if (missing >= 0) throw GenerationErrors.uploadNotFound(missing);
    const unsupported = uploads.findIndex((upload) => !acceptsInput(kind, upload!.kind));
    if (unsupported >= 0) throw GenerationErrors.unsupportedInput(unsupported, uploads[unsupported]!.kind, kind, INPUT_KINDS[kind]);
    // Each upload once, as the job reads them.
    const bytes = [...new Map(uploadIds.map((id, index) => [id, uploads[index]!.bytes])).values()].reduce((sum, size) => sum + size, 0);
    if (bytes > this.config.GENERATION_MAX_INPUT_MB) throw GenerationErrors.inputsTooLarge(this.config.GENERATION_MAX_INPUT_MB);
  }

  private async reserve(job: { id: string; userId: string }, kind: GenerationRpc.GenerationKind, caller: CallerContext): Promise<number> {
    try {
      const { cost } = await this.rpc.call(BillingRpc.ReserveEnergyRoute, { userId: job.userId, reservationId: job.id, purpose: kind }, { requestId: caller.requestId, userId: job.userId });
      return cost;
    } catch (error) {
      if (error instanceof RpcError && error.status === 402) {
        await this.transactor.run(() => this.jobs.deleteUnreserved(job.id));
        throw error;
      }
      this.logger.warn({ err: error, requestId: caller.requestId }, 'energy reservation failed; the job is failed and any reservation refunded');
      await this.failJob.execute(job, 'reservation_failed', 'unreserved');
      throw GenerationErrors.reservationFailed();
    }
  }

  /** A write for the user in one transaction, refused (401) once generation has purged the user. */
  private async guarded<T>(userId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        return write();
      });
    } catch (error) {
      throw error instanceof UserErased ? GenerationErrors.accountDeleted() : error;
    }
  }
}

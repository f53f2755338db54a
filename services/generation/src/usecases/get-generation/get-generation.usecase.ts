import { Injectable } from '@nestjs/common';
import type { CallerContext, GenerationRpc } from '@homiwork/contracts';
import { GenerationErrors } from '../../generation-errors.js';
import { JobsRepository } from '../../persistence/jobs.repository.js';

/** The caller's own job, for polling; anyone else's is not found (404, never 403). */
@Injectable()
export class GetGeneration {
  constructor(private readonly jobs: JobsRepository) {}

  async execute(id: string, caller: CallerContext): Promise<GenerationRpc.Generation> {
    if (!caller.userId) throw GenerationErrors.unauthenticated();
    const job = await this.jobs.findOwned(caller.userId, id);
    if (!job) throw GenerationErrors.generationNotFound();
    return {
      id: job.id,
      kind: job.kind,
      status: job.status,
      ...(job.contentId ? { contentId: job.contentId } : {}),
      ...(job.status === 'failed' && job.errorCode ? { error: { code: job.errorCode, message: job.errorMessage ?? '' } } : {}),
      createdAt: job.createdAt.toISOString(),
    };
  }
}

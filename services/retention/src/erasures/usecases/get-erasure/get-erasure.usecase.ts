import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { RetentionRpc } from '@homiwork/contracts';
import { publicErasureView } from '../../domain/erasure-view.js';
import { ErasureErrors } from '../../erasure-errors.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';

/**
 * GET /v1/privacy/erasures/:erasureId — public: the opaque id is the only key (the user who
 * asked no longer exists once it completes). It shows statuses, times and counts, never a
 * user id. Unknown id → 404.
 */
@Injectable()
export class GetErasure {
  constructor(
    private readonly erasures: ErasuresRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(erasureId: string): Promise<RetentionRpc.ErasureView> {
    const erasure = await this.erasures.find(erasureId);
    if (!erasure) throw ErasureErrors.erasureNotFound();
    return publicErasureView(erasure, this.clock.now());
  }
}

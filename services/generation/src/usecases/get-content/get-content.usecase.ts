import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { CallerContext, GenerationRpc } from '@homiwork/contracts';
import { GenerationConfig } from '../../config.js';
import { GenerationErrors } from '../../generation-errors.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';
import { toContentView } from '../content-view.js';

/** One of the caller's items, live or in the trash (its `deletedAt` says which); anyone else's, or one gone by the clock, is not found. */
@Injectable()
export class GetContent {
  constructor(
    private readonly contents: ContentsRepository,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<GenerationRpc.Content> {
    if (!caller.userId) throw GenerationErrors.unauthenticated();
    const now = this.clock.now();
    const content = await this.contents.findOwned(caller.userId, id, now, addDays(now, -this.config.CONTENT_TRASH_DAYS));
    if (!content) throw GenerationErrors.contentNotFound();
    return toContentView(content);
  }
}

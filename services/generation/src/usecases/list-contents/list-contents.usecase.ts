import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { CallerContext, GenerationRpc } from '@homiwork/contracts';
import { GenerationConfig } from '../../config.js';
import { GenerationErrors } from '../../generation-errors.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';
import { toContentView } from '../content-view.js';

/**
 * The caller's content (`deleted` false) or trash (true), newest first. Expiry is exact for
 * the user: an item past its expiry or its days in the trash is gone from the list at that
 * moment by the service clock, whether or not a sweep has removed it yet.
 */
@Injectable()
export class ListContents {
  constructor(
    private readonly contents: ContentsRepository,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  async execute(deleted: boolean, caller: CallerContext): Promise<{ items: GenerationRpc.Content[] }> {
    if (!caller.userId) throw GenerationErrors.unauthenticated();
    const now = this.clock.now();
    const items = await this.contents.listOwned(caller.userId, deleted, now, addDays(now, -this.config.CONTENT_TRASH_DAYS));
    return { items: items.map(toContentView) };
  }
}

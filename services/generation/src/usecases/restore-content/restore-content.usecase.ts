import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { ContentRestoredV1, type CallerContext, type GenerationRpc } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { GenerationConfig } from '../../config.js';
import { GenerationErrors } from '../../generation-errors.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';
import { toContentView } from '../content-view.js';

/**
 * §5.4: an item comes back out of the trash within CONTENT_TRASH_DAYS of its deletion
 * (ContentRestored; its expiry is unchanged). After that — or for an id that is not the
 * caller's — 404. Restoring an item that is not in the trash answers it as it is.
 */
@Injectable()
export class RestoreContent {
  constructor(
    private readonly transactor: Transactor,
    private readonly contents: ContentsRepository,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<GenerationRpc.Content> {
    const userId = caller.userId;
    if (!userId) throw GenerationErrors.unauthenticated();
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        const now = this.clock.now();
        const trashCutoff = addDays(now, -this.config.CONTENT_TRASH_DAYS);
        const restored = await this.contents.restore(userId, id, now, trashCutoff);
        if (restored) {
          await this.outbox.append(ContentRestoredV1, { userId, contentId: id, restoredAt: now.toISOString() });
          return toContentView(restored);
        }
        const existing = await this.contents.findOwned(userId, id, now, trashCutoff);
        if (!existing || existing.deletedAt) throw GenerationErrors.contentNotFound();
        return toContentView(existing);
      });
    } catch (error) {
      throw error instanceof UserErased ? GenerationErrors.accountDeleted() : error;
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { ContentDeletedV1, type CallerContext } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { GenerationConfig } from '../../config.js';
import { GenerationErrors } from '../../generation-errors.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';

/**
 * §5.4, §2.1.6: soft delete. The item goes to the trash (restorable for CONTENT_TRASH_DAYS,
 * then removed for good by the sweep) and ContentDeleted tells media to delete the uploads
 * it was made from — those are gone for good. Deleting an item already in the trash
 * changes nothing and announces nothing; an id that is not the caller's is 404.
 */
@Injectable()
export class DeleteContent {
  constructor(
    private readonly transactor: Transactor,
    private readonly contents: ContentsRepository,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<Record<string, never>> {
    const userId = caller.userId;
    if (!userId) throw GenerationErrors.unauthenticated();
    try {
      await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        const now = this.clock.now();
        const deleted = await this.contents.softDelete(userId, id, now);
        if (deleted) {
          await this.outbox.append(ContentDeletedV1, { userId, contentId: id, sourceUploadIds: deleted.sourceUploadIds, deletedAt: now.toISOString() });
          return;
        }
        const existing = await this.contents.findOwned(userId, id, now, addDays(now, -this.config.CONTENT_TRASH_DAYS));
        if (!existing) throw GenerationErrors.contentNotFound();
      });
    } catch (error) {
      throw error instanceof UserErased ? GenerationErrors.accountDeleted() : error;
    }
    return {};
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { PurgeCompletedV1, SAFETY_NET_GRACE_DAYS, type EventPayload } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { Transactor } from '@homiwork/persistence';
import { LegalHolds, LOGGER } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { GenerationConfig } from '../../config.js';
import { isDueForRemoval } from '../../domain/content-retention.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/** Items per sweep transaction: one DeleteObjects request, one DELETE, row locks held briefly. */
export const SWEEP_BATCH_SIZE = 500;

/**
 * §5.4's final removals, each confirmed with PurgeCompleted (scope `content`, counts only):
 * one item retention says has expired (ContentExpired), and generation's own pass over
 * everything past its expiry or its days in the trash. Objects are deleted before rows,
 * inside the transaction (the event handler's, which `one` joins), so a failure retries the
 * whole purge and deletion is idempotent — media's purge pattern, so an object that cannot
 * be removed keeps its row, and with it the fact that it must still go.
 *
 * Generation's own record decides, never the trigger alone: an item is deleted only when it
 * is due by that record — past its `expires_at` (null while its owner has Prime, so never
 * then) or in the trash longer than CONTENT_TRASH_DAYS — checked under the row lock. A
 * ContentExpired for an item that is not due (retention's view was stale, or knew nothing
 * of Prime), or that belongs to another user than the event names, deletes nothing: it is
 * confirmed with zero counts and a log line naming ids only. So a Prime user's content is
 * never deleted by an expiry notice, however late or wrong.
 */
@Injectable()
export class PurgeContent {
  constructor(
    private readonly transactor: Transactor,
    private readonly contents: ContentsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: EventsOutbox,
    private readonly holds: LegalHolds,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Retention's ContentExpired: one item of `userId`, if it is due by generation's record;
   * returns whether it went. Always a receipt — zero counts when the item is already gone,
   * not due, not the user's, or its owner is under a legal hold (§12.2): retention fired
   * when no hold stood, but a hold placed since (the consumer lagging or down) still counts,
   * so the owner is asked about just before the deletion, under the row lock; the held item
   * stays and the sweep takes it after the release. Without retention's answer this throws
   * LegalHoldsUnknown (its cause a 503/504): the consumer holds the event and tries it again
   * later, nothing deleted meanwhile.
   */
  one(contentId: string, userId: string, trigger: NonNullable<Trigger>): Promise<boolean> {
    return this.purgeOne(contentId, userId, trigger, 'ask');
  }

  private purgeOne(contentId: string, userId: string, trigger: Trigger, holds: 'ask' | 'cleared'): Promise<boolean> {
    return this.transactor.run(async () => {
      const content = await this.contents.findByIdForUpdate(contentId);
      const now = this.clock.now();
      let refused = !content ? undefined : content.userId !== userId ? 'another_owner' : !isDueForRemoval(content, now, this.trashCutoff(now)) ? 'not_due' : undefined;
      if (content && !refused && holds === 'ask' && (await this.holds.heldAmong([content.userId])).size > 0) refused = 'legal_hold';
      if (!content || refused) {
        if (refused) this.logger.warn({ contentId, messageId: trigger?.messageId, reason: refused }, 'content not due by its record, or held, was kept; nothing deleted');
        if (trigger) await this.confirm(userId, contentId, trigger, { contents: 0, objects: 0 });
        return false;
      }
      const objects = await this.store.remove([content.objectKey]);
      const contents = await this.contents.deleteById(contentId);
      await this.confirm(content.userId, contentId, trigger, { contents, objects });
      return true;
    });
  }

  /**
   * The safety net (ContentSweeper): retention's ContentExpired acts at the due time
   * (`one`); this pass takes what is still there SAFETY_NET_GRACE_DAYS after it was due —
   * past its expiry, or in the trash longer than CONTENT_TRASH_DAYS, by more than the grace
   * — so each item it removes is one retention missed. In batches, each its own
   * transaction, until nothing due is left; before each batch the owners of its candidates
   * are asked of retention (LegalHolds.sweep) and only items of owners under no legal hold
   * (§12.2) are taken. A failed batch is retried item by item, so one object that cannot be
   * removed holds back no other; it is left out for the rest of the run and reported at the
   * end. Returns how many items went; throws LegalHoldsUnknown when retention does not
   * answer (nothing more deleted).
   */
  async due(batchSize = SWEEP_BATCH_SIZE): Promise<number> {
    const failed: string[] = [];
    const failures: unknown[] = [];
    const total = await this.holds.sweep({
      batchSize,
      candidates: (heldSoFar) => {
        const dueBefore = this.safetyNetCutoff();
        return this.contents.dueCandidates(dueBefore, this.trashCutoff(dueBefore), batchSize, failed, heldSoFar);
      },
      purge: (cleared) => {
        const sweep = { excluding: failed, ofUsers: cleared };
        return this.dueBatch(batchSize, sweep).catch(() => this.dueOneByOne(batchSize, sweep, failures));
      },
    });
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} content item(s) due could not be purged; ${total} were`);
    return total;
  }

  private async dueOneByOne(limit: number, sweep: { excluding: string[]; ofUsers: readonly string[] }, failures: unknown[]): Promise<{ count: number; seen: number }> {
    const dueBefore = this.safetyNetCutoff();
    const due = await this.contents.dueForRemoval(dueBefore, this.trashCutoff(dueBefore), limit, sweep.excluding, sweep.ofUsers);
    let count = 0;
    for (const content of due) {
      try {
        if (await this.purgeOne(content.id, content.userId, null, 'cleared')) count++;
      } catch (error) {
        sweep.excluding.push(content.id);
        failures.push(error);
      }
    }
    return { count, seen: due.length };
  }

  private dueBatch(limit: number, sweep: { excluding: readonly string[]; ofUsers: readonly string[] }): Promise<{ count: number; seen: number }> {
    if (sweep.ofUsers.length === 0) return Promise.resolve({ count: 0, seen: 0 });
    return this.transactor.run(async () => {
      const dueBefore = this.safetyNetCutoff();
      const due = await this.contents.dueForRemoval(dueBefore, this.trashCutoff(dueBefore), limit, sweep.excluding, sweep.ofUsers);
      if (due.length === 0) return { count: 0, seen: 0 };
      // remove() throws unless every key is confirmed gone, so each receipt's 1 object is true.
      await this.store.remove(due.map((content) => content.objectKey));
      await this.contents.deleteByIds(due.map((content) => content.id));
      for (const content of due) await this.confirm(content.userId, content.id, null, { contents: 1, objects: 1 });
      return { count: due.length, seen: due.length };
    });
  }

  /** Items due at or before this moment are the safety net's: due more than SAFETY_NET_GRACE_DAYS ago. */
  /** Items past their expiry or their days in the trash, still stored, held ones included (purge_backlog_items{kind="content"}). */
  backlog(): Promise<number> {
    const now = this.clock.now();
    return this.contents.countDue(now, this.trashCutoff(now));
  }

  private safetyNetCutoff(): Date {
    return addDays(this.clock.now(), -SAFETY_NET_GRACE_DAYS);
  }

  private trashCutoff(now: Date): Date {
    return addDays(now, -this.config.CONTENT_TRASH_DAYS);
  }

  private async confirm(userId: string, contentId: string, trigger: Trigger, counts: { contents: number; objects: number }): Promise<void> {
    await this.outbox.append(PurgeCompletedV1, { service: 'generation', userId, erasureId: null, scope: 'content', scopeId: contentId, trigger, counts, purgedAt: this.clock.now().toISOString() });
  }
}

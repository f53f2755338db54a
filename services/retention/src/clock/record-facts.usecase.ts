import { Injectable } from '@nestjs/common';
import type {
  ContentCreatedV1,
  ContentDeletedV1,
  ContentRestoredV1,
  EventPayload,
  GenerationFinishedV1,
  PrimeStatusChangedV1,
  UploadStoredV1,
  UserRegisteredV1,
  UserSeenV1,
} from '@homiwork/contracts';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import {
  CHAT_DAYS,
  CONTENT_DAYS,
  chatDaySubjectId,
  chatHistoryDueAt,
  endOfDay,
  inactivityDueAt,
  primePlan,
  trashedContentDueAt,
  uploadDueAt,
  utcDay,
} from './due-dates.js';
import { DueItemsRepository } from './due-items.repository.js';

/**
 * The lifecycle facts the policy clock counts from (§5), one method per fact, each one
 * transaction (joining the event consumer's) that first passes the user's tombstone: an
 * erased user's facts are not recorded again, the event is dropped (returns false).
 */
@Injectable()
export class RecordFacts {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly items: DueItemsRepository,
  ) {}

  /** Registration counts as being seen: the inactivity clock starts on that day. */
  registered(fact: EventPayload<typeof UserRegisteredV1>): Promise<boolean> {
    return this.seenOn(fact.userId, utcDay(new Date(fact.registeredAt)));
  }

  seen(fact: EventPayload<typeof UserSeenV1>): Promise<boolean> {
    return this.seenOn(fact.userId, fact.seenOn);
  }

  uploadStored(fact: EventPayload<typeof UploadStoredV1>): Promise<boolean> {
    return this.guarded(fact.userId, () => this.items.recordUpload(fact.userId, fact.uploadId, new Date(fact.storedAt), uploadDueAt(new Date(fact.storedAt), new Date(fact.expiresAt))));
  }

  contentCreated(fact: EventPayload<typeof ContentCreatedV1>): Promise<boolean> {
    return this.guarded(fact.userId, async () => {
      const plan = await this.planOf(fact.userId);
      await this.items.recordContentCreated(fact.userId, fact.contentId, new Date(fact.createdAt), plan, CONTENT_DAYS);
    });
  }

  contentDeleted(fact: EventPayload<typeof ContentDeletedV1>): Promise<boolean> {
    return this.guarded(fact.userId, () => this.items.recordContentDeleted(fact.userId, fact.contentId, new Date(fact.deletedAt), trashedContentDueAt(new Date(fact.deletedAt))));
  }

  contentRestored(fact: EventPayload<typeof ContentRestoredV1>): Promise<boolean> {
    return this.guarded(fact.userId, async () => {
      const plan = await this.planOf(fact.userId);
      await this.items.recordContentRestored(fact.userId, fact.contentId, new Date(fact.restoredAt), plan, CONTENT_DAYS);
    });
  }

  /** Chat activity: a reply (whatever its outcome — the user's message is kept either way) on a UTC day. Other purposes are not chat history. */
  async generationFinished(fact: EventPayload<typeof GenerationFinishedV1>): Promise<boolean> {
    if (fact.purpose !== 'chat') return false;
    const day = utcDay(new Date(fact.finishedAt));
    return this.guarded(fact.userId, async () => {
      await this.items.lockPrime(fact.userId, 'shared');
      const prime = await this.items.findPrime(fact.userId);
      await this.items.recordChatDay(fact.userId, chatDaySubjectId(fact.userId, day), endOfDay(day), chatHistoryDueAt(day, prime));
    });
  }

  /** The newest status by changedAt wins; when it does, every content and chat row of the user is re-planned in one statement. */
  primeStatusChanged(fact: EventPayload<typeof PrimeStatusChangedV1>): Promise<boolean> {
    return this.guarded(fact.userId, async () => {
      await this.items.lockPrime(fact.userId, 'exclusive');
      const status = { active: fact.active, expiresAt: fact.expiresAt ? new Date(fact.expiresAt) : null, changedAt: new Date(fact.changedAt) };
      if (await this.items.recordPrime(fact.userId, status)) {
        await this.items.replan(fact.userId, primePlan(status), { content: CONTENT_DAYS, chat: CHAT_DAYS });
      }
    });
  }

  private seenOn(userId: string, day: string): Promise<boolean> {
    const { warningAt, erasureAt } = inactivityDueAt(day);
    return this.guarded(userId, () => this.items.recordSeen(userId, endOfDay(day), warningAt, erasureAt));
  }

  /** The user's Prime plan, read under the shared Prime lock (a concurrent Prime change waits, or is seen). */
  private async planOf(userId: string) {
    await this.items.lockPrime(userId, 'shared');
    return primePlan(await this.items.findPrime(userId));
  }

  private async guarded(userId: string, work: () => Promise<unknown>): Promise<boolean> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        await work();
        return true;
      });
    } catch (error) {
      if (error instanceof UserErased) return false;
      throw error;
    }
  }
}

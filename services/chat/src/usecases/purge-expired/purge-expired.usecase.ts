import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { ChatRpc, PurgeCompletedV1, SAFETY_NET_GRACE_DAYS, type ChatHistoryExpiredV1, type EventPayload } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor } from '@homiwork/persistence';
import { LegalHolds } from '@homiwork/service-kit';
import { ChatConfig } from '../../config.js';
import { ASSISTANTS } from '../../domain/assistants.js';
import { ConversationsRepository } from '../../persistence/conversations.repository.js';
import { MessagesRepository } from '../../persistence/messages.repository.js';

/** A conversation row written to this recently is a sender's, even if its message is not visible yet. */
const CONVERSATION_IDLE_MS = 60_000;

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/** Messages per sweep transaction: row locks held briefly, one receipt per user in it. */
export const SWEEP_BATCH_SIZE = 1_000;

/**
 * §5.5's deletions, confirmed with PurgeCompleted (scope `chat_history`, counts only), by
 * chat's own rule (domain/chat-retention.ts) — never by a notice alone:
 *
 * - `due`: chat's own schedule (ChatSweeper), the safety net, deletes every message past
 *   retention by more than SAFETY_NET_GRACE_DAYS (retention's notice acts at the due time,
 *   so what this takes is what retention missed), never of a user under a legal hold
 *   (§12.2: each batch asks retention about its candidates' owners first, LegalHolds.sweep),
 *   in batches, one receipt per user and batch, which retention can audit; then the rows
 *   of conversations left empty, the same way.
 * - `notice`: retention's ChatHistoryExpired deletes, in that conversation and before its
 *   `before`, only what is due by chat's record; a notice for messages that are not due
 *   (the user has Prime, retention's view is stale) deletes nothing and is still confirmed,
 *   with zero counts. So is a notice for a user under a legal hold: retention fired it when
 *   no hold stood, but one placed since (the consumer lagging or down) still counts, so the
 *   user is asked about just before; the sweep takes the history after the release.
 */
@Injectable()
export class PurgeExpired {
  constructor(
    private readonly transactor: Transactor,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly outbox: EventsOutbox,
    private readonly holds: LegalHolds,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(ChatConfig) private readonly config: ChatConfig,
  ) {}

  /**
   * One safety-net pass; returns how many messages went. Throws LegalHoldsUnknown when
   * retention does not answer (the batches done stay done, nothing more is deleted).
   */
  async due(batchSize = SWEEP_BATCH_SIZE): Promise<number> {
    const dueAt = () => addDays(this.cutoff(), -SAFETY_NET_GRACE_DAYS);
    const total = await this.holds.sweep({
      batchSize,
      candidates: (heldSoFar) => this.messages.dueCandidates(dueAt(), batchSize, heldSoFar),
      purge: (cleared) =>
        cleared.length === 0
          ? Promise.resolve({ count: 0, seen: 0 })
          : this.transactor.run(async () => {
              const owners = await this.messages.deleteDue(dueAt(), batchSize, { ofUsers: cleared });
              const perUser = new Map<string, number>();
              for (const { userId } of owners) perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
              for (const [userId, messages] of perUser) await this.confirm(userId, null, messages);
              return { count: owners.length, seen: owners.length };
            }),
    });
    const idleBefore = new Date(this.clock.nowMs() - CONVERSATION_IDLE_MS);
    await this.holds.sweep({
      batchSize,
      candidates: (heldSoFar) => this.conversations.emptyCandidates(idleBefore, batchSize, heldSoFar),
      purge: async (cleared) => {
        const deleted = cleared.length === 0 ? 0 : await this.transactor.run(() => this.conversations.deleteEmpty(idleBefore, batchSize, cleared));
        return { count: deleted, seen: deleted };
      },
    });
    return total;
  }

  /** Retention's ChatHistoryExpired. Throws LegalHoldsUnknown without retention's answer: the consumer holds the event and tries again later. */
  notice(expired: EventPayload<typeof ChatHistoryExpiredV1>, trigger: NonNullable<Trigger>): Promise<number> {
    return this.transactor.run(async () => {
      if ((await this.holds.heldAmong([expired.userId])).size > 0) {
        await this.confirm(expired.userId, trigger, 0);
        return 0;
      }
      // A conversation holds at most STORED_MESSAGES_PER_ASSISTANT rows, and a user talks to
      // the catalogue's few assistants, so one statement takes all that is due.
      const limit = ChatRpc.STORED_MESSAGES_PER_ASSISTANT * (expired.assistantId ? 2 : 2 * ASSISTANTS.length);
      const deleted = await this.messages.deleteDue(this.cutoff(), limit, { only: { userId: expired.userId, assistantId: expired.assistantId, before: new Date(expired.before) } });
      await this.confirm(expired.userId, trigger, deleted.length);
      return deleted.length;
    });
  }

  /** Messages past §5.5's retention, still stored, held ones included (purge_backlog_items{kind="chat_message"}). */
  backlog(): Promise<number> {
    return this.messages.countDue(this.cutoff());
  }

  private cutoff(): Date {
    return addDays(this.clock.now(), -this.config.CHAT_RETENTION_DAYS);
  }

  private async confirm(userId: string, trigger: Trigger, messages: number): Promise<void> {
    await this.outbox.append(PurgeCompletedV1, { service: 'chat', userId, erasureId: null, scope: 'chat_history', scopeId: null, trigger, counts: { messages }, purgedAt: this.clock.now().toISOString() });
  }
}

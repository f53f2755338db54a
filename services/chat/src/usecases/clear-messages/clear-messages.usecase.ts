import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type CallerContext } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { ChatErrors } from '../../chat-errors.js';
import { findAssistant } from '../../domain/assistants.js';
import { ConversationsRepository } from '../../persistence/conversations.repository.js';
import { MessagesRepository } from '../../persistence/messages.repository.js';

/**
 * R5.4: the user clears a conversation — its messages and its row go, confirmed with
 * PurgeCompleted (scope `chat_history`, counts only). Under the conversation lock, so a
 * send in flight either finished before (and its rows go) or stores after (into an empty
 * conversation; a reply whose user message was cleared is not stored, see SendMessage).
 */
@Injectable()
export class ClearMessages {
  constructor(
    private readonly transactor: Transactor,
    private readonly conversations: ConversationsRepository,
    private readonly messages: MessagesRepository,
    private readonly tombstones: UserTombstones,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(assistantId: string, caller: CallerContext): Promise<Record<string, never>> {
    const userId = caller.userId;
    if (!userId) throw ChatErrors.unauthenticated();
    if (!findAssistant(assistantId)) throw ChatErrors.assistantNotFound(assistantId);
    try {
      await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        // Waits for a send holding the conversation, so what it stored goes too.
        await this.conversations.lockForNextMessage(userId, assistantId, this.clock.now());
        const messages = await this.messages.deleteConversation(userId, assistantId);
        await this.conversations.delete(userId, assistantId);
        await this.outbox.append(PurgeCompletedV1, { service: 'chat', userId, erasureId: null, scope: 'chat_history', scopeId: null, trigger: null, counts: { messages }, purgedAt: this.clock.now().toISOString() });
      });
    } catch (error) {
      throw error instanceof UserErased ? ChatErrors.accountDeleted() : error;
    }
    return {};
  }
}

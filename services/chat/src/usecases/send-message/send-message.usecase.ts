import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { BillingRpc, ChatRpc, GenerationFinishedV1, GenerationRpc, ProhibitedContentDetectedV1, type CallerContext } from '@homiwork/contracts';
import { UserDataKeys } from '@homiwork/data-keys';
import { EventsOutbox, RpcClient, RpcError } from '@homiwork/messaging';
import { Moderator } from '@homiwork/moderation';
import type { Logger } from '@homiwork/observability';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { ChatErrors } from '../../chat-errors.js';
import { ChatConfig } from '../../config.js';
import { findAssistant } from '../../domain/assistants.js';
import { conversationContext, sliceWhole, type Turn } from '../../domain/conversation-context.js';
import { ConversationsRepository } from '../../persistence/conversations.repository.js';
import { MessagesRepository, type MessageRole } from '../../persistence/messages.repository.js';
import { ProcessingRestrictionsRepository } from '@homiwork/persistence';

/**
 * Generation gives a reply up to CHAT_REPLY_TIMEOUT_MS (30 s by default, the contractor's
 * retries included); waiting a little longer means its answer — a reply or a clear error — is
 * what decides, never our own time-out while the reply may still arrive.
 */
export const REPLY_WAIT_MS = 35_000;

/** Rows decrypted at a time for the context: only as many as the budget needs. */
const CONTEXT_BATCH = 10;

interface Stored {
  id: string;
  createdAt: Date;
}

/** A stored message's fields besides its text: its id (the user message's is chosen before reserving), status, settlement. */
interface Storing {
  id: string;
  status: 'answered' | 'unanswered';
  settledAt: Date | null;
}

/**
 * R5.2, R5.3: a message to an assistant and its reply, both stored — or a clear error.
 *
 * 1. Validated (unknown assistant 404, empty or over-long text 400 naming `text`) and
 *    moderated: a prohibited text is refused (422), announced as ProhibitedContentDetected
 *    (rule code only), and nothing is stored.
 *    While a restriction of processing or an objection is in force (R7.3, the mirror of
 *    retention's ProcessingRestrictionChanged) it is refused, 403 `processing_restricted`.
 * 2. If replies cost energy, billing reserves under the user message's id, chosen now —
 *    before anything is stored, so a refusal (402) or a failure leaves the conversation as
 *    it was (nothing stored, nothing trimmed). A failure other than 402 announces
 *    GenerationFinished(failed) in a transaction of its own, so a reservation made after
 *    all (a time-out) is refunded.
 * 3. TX1: the user message is stored sealed, `unanswered`, unsettled, and the conversation
 *    trimmed to its newest 100 — under the conversation's row lock, in one transaction, so
 *    no other transaction ever sees more than 100 rows of it (§5.5). TX1 failing refunds
 *    the reservation in a transaction of its own (best effort: no row is left to sweep).
 * 4. The recent conversation (decrypted newest first only until CHAT_CONTEXT_CHARS is
 *    full) goes to generation's chat reply route, which scrubs it and dispatches it
 *    through its egress.
 * 5. TX2: the reply is stored sealed (its first MAX_MESSAGE_CHARS characters), the user
 *    message marked `answered` and settled, the conversation trimmed,
 *    GenerationFinished(succeeded) announced (commits the energy) — together. A user
 *    message gone meanwhile (the user cleared the conversation) gets no stored reply: the
 *    reply is answered but not brought back into a cleared conversation. A user message
 *    the stale-send sweep settled (refunded) meanwhile is answered free: no second outcome.
 *    A failed reply (or TX2 failing) leaves the user message `unanswered`, settles it with
 *    GenerationFinished(failed) (refund) and answers 502 `reply_failed`.
 * 6. Chat stopping between 3 and 5 leaves the user message unsettled: StaleSendSweeper
 *    refunds it CHAT_SETTLE_AFTER_MS later.
 *
 * Timestamps are strictly increasing within a conversation (taken under its lock), so
 * "the newest 100" is always well defined.
 */
@Injectable()
export class SendMessage {
  constructor(
    private readonly transactor: Transactor,
    private readonly conversations: ConversationsRepository,
    private readonly messages: MessagesRepository,
    private readonly keys: UserDataKeys,
    private readonly tombstones: UserTombstones,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly outbox: EventsOutbox,
    private readonly moderator: Moderator,
    private readonly rpc: RpcClient,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(ChatConfig) private readonly config: ChatConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(request: { assistantId: string; text: string }, caller: CallerContext): Promise<{ message: ChatRpc.ChatMessage; reply: ChatRpc.ChatMessage }> {
    const userId = caller.userId;
    if (!userId) throw ChatErrors.unauthenticated();
    const assistant = findAssistant(request.assistantId);
    if (!assistant) throw ChatErrors.assistantNotFound(request.assistantId);
    const text = request.text.trim();
    if (text.length === 0 || text.length > ChatRpc.MAX_MESSAGE_CHARS) throw ChatErrors.textInvalid();
    // Early and cheap; the guard at each write is what makes it certain.
    if (await this.tombstones.isErased(userId)) throw ChatErrors.accountDeleted();
    // R7.3: a restriction or objection in force — refused before moderation, reservation or storage.
    if (await this.restrictions.isRestricted(userId)) throw ChatErrors.processingRestricted();

    const verdict = await this.moderator.text(text);
    if (!verdict.allowed) {
      await this.guarded(userId, () => this.outbox.append(ProhibitedContentDetectedV1, { userId, subjectKind: 'prompt', rule: verdict.rule, detectedAt: this.clock.now().toISOString() }));
      throw ChatErrors.textRejected();
    }

    const conversation = { userId, assistantId: assistant.id };
    const charged = this.config.CHAT_CHARGE_ENERGY;
    const messageId = randomUUID();
    if (charged) await this.reserve(userId, messageId, caller);
    let message: Stored;
    try {
      message = await this.guarded(userId, () => this.store(conversation, text, { id: messageId, status: 'unanswered', settledAt: null }, charged));
    } catch (error) {
      if (charged) await this.refundUnstored(userId, messageId, caller);
      throw error;
    }

    let replyText: string;
    try {
      const turns = await this.context(conversation, message);
      const { text: generated } = await this.rpc.call(GenerationRpc.ChatReplyRoute, { userId, style: assistant.style, turns }, { requestId: caller.requestId, userId }, { timeoutMs: REPLY_WAIT_MS });
      // Replies may be up to 100,000 characters; a stored message is at most MAX_MESSAGE_CHARS
      // (UTF-16 units, as the contracts count), cut on a character boundary — never half a
      // surrogate pair — so a full conversation's list of 100 stays well within NATS's 1 MB.
      replyText = sliceWhole(generated, ChatRpc.MAX_MESSAGE_CHARS);
    } catch (error) {
      this.logger.warn({ err: error instanceof RpcError ? { status: error.status, code: error.code } : error, requestId: caller.requestId }, 'chat reply failed; the message stays unanswered');
      await this.failed(userId, message.id, charged);
      // Generation checks its own mirror of restrictions too: one that came into force while
      // this send was on its way is the user's own choice, not a failure of ours.
      if (error instanceof RpcError && error.status === 403 && error.code === 'processing_restricted') throw ChatErrors.restrictedBeforeReply();
      throw ChatErrors.replyFailed();
    }

    let reply: Stored;
    try {
      reply = await this.guarded(userId, async () => {
        // The conversation first, then the message: the order Clear takes them in.
        const lockedAt = await this.conversations.lockForNextMessage(userId, assistant.id, this.clock.now());
        const settled = await this.messages.settle(message.id, this.clock.now(), true);
        const stored = settled === 'gone' ? { id: randomUUID(), createdAt: lockedAt } : await this.insert(conversation, 'assistant', replyText, { id: randomUUID(), status: 'answered', settledAt: null }, true);
        if (charged && settled !== 'already_settled') await this.finished(userId, message.id, 'succeeded');
        return stored;
      });
    } catch (error) {
      if (error instanceof RpcError) throw error;
      this.logger.warn({ err: error, requestId: caller.requestId }, 'chat reply could not be stored; the message stays unanswered');
      await this.failed(userId, message.id, charged);
      throw ChatErrors.replyFailed();
    }
    return {
      message: { id: message.id, role: 'user', text, status: 'answered', createdAt: message.createdAt.toISOString() },
      reply: { id: reply.id, role: 'assistant', text: replyText, status: 'answered', createdAt: reply.createdAt.toISOString() },
    };
  }

  /** Inside a transaction: store the user message sealed (settled already if it costs nothing), its conversation locked and trimmed to the newest 100. */
  private store(conversation: { userId: string; assistantId: string }, text: string, storing: Storing, charged: boolean): Promise<Stored> {
    return this.insert(conversation, 'user', text, storing, !charged);
  }

  /** Seals, then stores with the capped insert: a user message's conversation is locked only by that one call (a reply's already is, for the settle). */
  private async insert(conversation: { userId: string; assistantId: string }, role: MessageRole, text: string, storing: Storing, settledOnCreation: boolean): Promise<Stored> {
    const { userId, assistantId } = conversation;
    const { sealed, keyVersion } = await this.keys.seal(userId, text);
    const createdAt = await this.messages.storeCapped(
      { id: storing.id, userId, assistantId, role, sealed, keyVersion, status: storing.status, settledAt: storing.settledAt },
      this.clock.now(),
      settledOnCreation,
      ChatRpc.STORED_MESSAGES_PER_ASSISTANT,
    );
    return { id: storing.id, createdAt };
  }

  /**
   * Newest first, decrypted a batch at a time, stopping once a turn no longer fits the
   * budget (conversationContext then leaves it and every older one out): a long exchange
   * does not cost decrypting all 100 rows.
   */
  private async context(conversation: { userId: string; assistantId: string }, message: Stored): Promise<Turn[]> {
    const rows = await this.messages.newestUpTo(conversation.userId, conversation.assistantId, message, ChatRpc.STORED_MESSAGES_PER_ASSISTANT);
    const budget = this.config.CHAT_CONTEXT_CHARS;
    const opened: Turn[] = [];
    for (let start = 0; start < rows.length; start += CONTEXT_BATCH) {
      const batch = rows.slice(start, start + CONTEXT_BATCH);
      const texts = await this.keys.openMany(conversation.userId, batch.map((row) => row.sealed));
      opened.push(...batch.map((row, index) => ({ role: row.role, text: texts[index]! })));
      if (conversationContext(opened, budget).length < opened.length) break;
    }
    return conversationContext(opened, budget);
  }

  /** Reserves before anything is stored: refused or failed, the conversation is as it was. */
  private async reserve(userId: string, messageId: string, caller: CallerContext): Promise<void> {
    try {
      await this.rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: messageId, purpose: 'chat' }, { requestId: caller.requestId, userId });
    } catch (error) {
      if (error instanceof RpcError && error.status === 402) throw error;
      this.logger.warn({ err: error, requestId: caller.requestId }, 'energy reservation for a chat reply failed; nothing stored, any reservation refunded');
      await this.refundUnstored(userId, messageId, caller);
      throw ChatErrors.reservationFailed();
    }
  }

  /**
   * A reservation (perhaps made after all) for a message that was never stored: refunded in
   * a transaction of its own. Best effort — with no row, the stale-send sweep cannot find it
   * — so a failure here is logged and the original error stands.
   */
  private async refundUnstored(userId: string, messageId: string, caller: CallerContext): Promise<void> {
    try {
      await this.ignoringErased(() => this.guarded(userId, () => this.finished(userId, messageId, 'failed')));
    } catch (error) {
      this.logger.error({ err: error, requestId: caller.requestId }, 'refund of an unstored chat message could not be announced');
    }
  }

  /** The reply failed: the message stays unanswered; the reservation is refunded and the message settled, together. */
  private async failed(userId: string, messageId: string, charged: boolean): Promise<void> {
    if (!charged) return;
    await this.ignoringErased(() =>
      this.guarded(userId, async () => {
        // Gone (cleared) still refunds; settled already means the stale sweep refunded it.
        if ((await this.messages.settle(messageId, this.clock.now(), false)) !== 'already_settled') await this.finished(userId, messageId, 'failed');
      }),
    );
  }

  private async finished(userId: string, messageId: string, outcome: 'succeeded' | 'failed'): Promise<void> {
    await this.outbox.append(GenerationFinishedV1, { userId, jobId: messageId, purpose: 'chat', outcome, finishedAt: this.clock.now().toISOString() });
  }

  /** A write for the user in one transaction, refused (401) once chat has purged the user. */
  private async guarded<T>(userId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        return write();
      });
    } catch (error) {
      throw error instanceof UserErased ? ChatErrors.accountDeleted() : error;
    }
  }

  /** The user was purged meanwhile: their messages went with everything else, and billing purged its side. */
  private async ignoringErased(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof RpcError && error.status === 401)) throw error;
    }
  }
}

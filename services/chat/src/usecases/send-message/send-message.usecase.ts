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
import { conversationContext } from '../../domain/conversation-context.js';
import { ConversationsRepository } from '../../persistence/conversations.repository.js';
import { MessagesRepository, type MessageRole } from '../../persistence/messages.repository.js';

/**
 * Generation gives a reply up to CHAT_REPLY_TIMEOUT_MS (30 s by default, the contractor's
 * retries included); waiting a little longer means its answer — a reply or a clear error — is
 * what decides, never our own time-out while the reply may still arrive.
 */
const REPLY_WAIT_MS = 35_000;

interface Stored {
  id: string;
  createdAt: Date;
}

/**
 * R5.2, R5.3: a message to an assistant and its reply, both stored — or a clear error.
 *
 * 1. Validated (unknown assistant 404, empty or over-long text 400 naming `text`) and
 *    moderated: a prohibited text is refused (422), announced as ProhibitedContentDetected
 *    (rule code only), and nothing is stored.
 * 2. TX1: the user message is stored sealed, `unanswered`, and the conversation trimmed to
 *    its newest 100 — under the conversation's row lock, in one transaction, so no other
 *    transaction ever sees more than 100 rows of it (§5.5).
 * 3. If replies cost energy, billing reserves under the user message's id. Refused (402) or
 *    failed: the message is deleted again in a compensating transaction — as if never
 *    sent — and a failure other than 402 also announces GenerationFinished(failed) in it,
 *    so a reservation made after all (a time-out) is refunded.
 * 4. The recent conversation (decrypted, at most CHAT_CONTEXT_CHARS) goes to generation's
 *    chat reply route, which scrubs it and dispatches it through its egress.
 * 5. TX2: the reply is stored sealed, the user message marked `answered`, the conversation
 *    trimmed, GenerationFinished(succeeded) announced (commits the energy) — together. A
 *    user message gone meanwhile (the user cleared the conversation) gets no stored reply:
 *    the reply is answered but not brought back into a cleared conversation.
 *    A failed reply (or TX2 failing) leaves the user message `unanswered`, announces
 *    GenerationFinished(failed) (refund) and answers 502 `reply_failed`.
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

    const verdict = await this.moderator.text(text);
    if (!verdict.allowed) {
      await this.guarded(userId, () => this.outbox.append(ProhibitedContentDetectedV1, { userId, subjectKind: 'prompt', rule: verdict.rule, detectedAt: this.clock.now().toISOString() }));
      throw ChatErrors.textRejected();
    }

    const conversation = { userId, assistantId: assistant.id };
    const message = await this.guarded(userId, () => this.store(conversation, 'user', text, 'unanswered'));
    const charged = this.config.CHAT_CHARGE_ENERGY;
    if (charged) await this.reserve(userId, message.id, caller);

    let replyText: string;
    try {
      const turns = await this.context(conversation, message);
      ({ text: replyText } = await this.rpc.call(GenerationRpc.ChatReplyRoute, { userId, style: assistant.style, turns }, { requestId: caller.requestId, userId }, { timeoutMs: REPLY_WAIT_MS }));
    } catch (error) {
      this.logger.warn({ err: error instanceof RpcError ? { status: error.status, code: error.code } : error, requestId: caller.requestId }, 'chat reply failed; the message stays unanswered');
      await this.failed(userId, message.id, charged);
      throw ChatErrors.replyFailed();
    }

    let reply: Stored;
    try {
      reply = await this.guarded(userId, async () => {
        // The conversation first, then the message: the order Clear takes them in.
        const createdAt = await this.conversations.lockForNextMessage(userId, assistant.id, this.clock.now());
        const answered = await this.messages.markAnswered(message.id);
        const stored = answered ? await this.insertLocked(conversation, 'assistant', replyText, 'answered', createdAt) : { id: randomUUID(), createdAt };
        if (charged) await this.finished(userId, message.id, 'succeeded');
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

  /** Inside a transaction: lock the conversation, store the message sealed, trim to the newest 100. */
  private async store(conversation: { userId: string; assistantId: string }, role: MessageRole, text: string, status: 'answered' | 'unanswered'): Promise<Stored> {
    const createdAt = await this.conversations.lockForNextMessage(conversation.userId, conversation.assistantId, this.clock.now());
    return this.insertLocked(conversation, role, text, status, createdAt);
  }

  /** With the conversation locked by this transaction: store sealed, trim to the newest 100. */
  private async insertLocked(conversation: { userId: string; assistantId: string }, role: MessageRole, text: string, status: 'answered' | 'unanswered', createdAt: Date): Promise<Stored> {
    const { userId, assistantId } = conversation;
    const { sealed, keyVersion } = await this.keys.seal(userId, text);
    const id = randomUUID();
    await this.messages.insertAndTrim({ id, userId, assistantId, role, sealed, keyVersion, status, createdAt }, ChatRpc.STORED_MESSAGES_PER_ASSISTANT);
    return { id, createdAt };
  }

  private async context(conversation: { userId: string; assistantId: string }, message: Stored) {
    const rows = await this.messages.newestUpTo(conversation.userId, conversation.assistantId, message, ChatRpc.STORED_MESSAGES_PER_ASSISTANT);
    const texts = await this.keys.openMany(conversation.userId, rows.map((row) => row.sealed));
    return conversationContext(
      rows.map((row, index) => ({ role: row.role, text: texts[index]! })),
      this.config.CHAT_CONTEXT_CHARS,
    );
  }

  private async reserve(userId: string, messageId: string, caller: CallerContext): Promise<void> {
    try {
      await this.rpc.call(BillingRpc.ReserveEnergyRoute, { userId, reservationId: messageId, purpose: 'chat' }, { requestId: caller.requestId, userId });
    } catch (error) {
      const refused = error instanceof RpcError && error.status === 402;
      if (!refused) this.logger.warn({ err: error, requestId: caller.requestId }, 'energy reservation for a chat reply failed; the message is withdrawn and any reservation refunded');
      await this.ignoringErased(() =>
        this.guarded(userId, async () => {
          await this.messages.deleteById(messageId);
          if (!refused) await this.finished(userId, messageId, 'failed');
        }),
      );
      throw refused ? error : ChatErrors.reservationFailed();
    }
  }

  /** The reply failed: the message stays unanswered; a reservation is refunded. */
  private async failed(userId: string, messageId: string, charged: boolean): Promise<void> {
    if (!charged) return;
    await this.ignoringErased(() => this.guarded(userId, () => this.finished(userId, messageId, 'failed')));
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

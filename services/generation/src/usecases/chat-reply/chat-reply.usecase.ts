import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { IdentityRpc, ProhibitedContentDetectedV1, type CallerContext } from '@homiwork/contracts';
import { EventsOutbox, RpcClient, RpcError } from '@homiwork/messaging';
import { Moderator } from '@homiwork/moderation';
import type { Logger } from '@homiwork/observability';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { ContractorError, type ContractorErrorCode } from '../../contractor/contractor.js';
import { ContractorEgress, type UserIdentifiers } from '../../contractor/egress.js';
import { GenerationErrors } from '../../generation-errors.js';
import { GenerationMetrics } from '../../generation-metrics.js';
import { ProcessingRestrictionsRepository } from '@homiwork/persistence';
import { MAX_CONVERSATION_CHARS, normalizedLength, renderConversation, type ChatReplyRequest } from './conversation.js';

/** Why a reply was not given, as a metric label: fixed words, never anything from the request. */
export type ChatReplyOutcome =
  | 'succeeded'
  | 'refused'
  | 'account_deleted'
  | 'processing_restricted'
  | 'identifiers_unavailable'
  | 'content_rejected'
  | ContractorErrorCode
  | 'internal_error';

/** A refusal that already carries its answer and its metric label. */
class ReplyRefused extends Error {
  constructor(
    readonly outcome: ChatReplyOutcome,
    readonly answer: RpcError,
  ) {
    super(answer.message);
  }
}

/**
 * R5.1, §7.2: the reply of an assistant to a conversation, through the same anonymizing
 * egress as generations. Chat keeps the conversation; generation keeps nothing of it — no
 * job row, no prompt, no reply: a chat reply is not content.
 *
 * 1. The turns together may be at most 16,000 characters once in NFKC (the form the scrubber
 *    works on); more is refused, 400 naming `turns`. A caller acting for another user than
 *    the one named is refused (403), an erased one too (401), and a user with a restriction
 *    or objection in force (403 `processing_restricted`, R7.3), before anything is fetched.
 * 2. The user's email and username come from identity for this reply only; if identity
 *    cannot answer, the reply fails closed (503 `identifiers_unavailable`) and nothing is sent.
 * 3. The turns become one prompt (newest last, conversation.ts), dispatched as a `text` job
 *    with the assistant's style and no inputs, under the conversation bound of the scrubber.
 *    The egress draws a fresh job id per dispatch, so a provider cannot link two replies.
 * 4. The reply is moderated with the text rules; a prohibited one is refused (422
 *    `content_rejected`) and announced as ProhibitedContentDetected(generated) — the rule
 *    only, never the text.
 *
 * Contractor failures map to fixed answers naming no personal data: anonymization_failed →
 * 422, contractor_unavailable → 503, a timeout (the adapter's, or CHAT_REPLY_TIMEOUT_MS for
 * the whole dispatch), a refusal or an unusable result → 502 `reply_failed`.
 */
@Injectable()
export class ChatReply {
  constructor(
    private readonly transactor: Transactor,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly moderator: Moderator,
    private readonly rpc: RpcClient,
    private readonly egress: ContractorEgress,
    private readonly metrics: GenerationMetrics,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(request: ChatReplyRequest, caller: CallerContext): Promise<{ text: string }> {
    const started = performance.now();
    let outcome: ChatReplyOutcome = 'internal_error';
    try {
      const text = await this.reply(request, caller);
      outcome = 'succeeded';
      return { text };
    } catch (error) {
      if (error instanceof ReplyRefused) {
        outcome = error.outcome;
        throw error.answer;
      }
      this.logger.error({ err: error, requestId: caller.requestId }, 'a chat reply failed unexpectedly');
      throw error;
    } finally {
      const adapter = this.egress.adapterFor('text');
      this.metrics.chatReplies.inc({ adapter, outcome });
      this.metrics.chatReplySeconds.observe({ adapter }, (performance.now() - started) / 1000);
    }
  }

  private async reply(request: ChatReplyRequest, caller: CallerContext): Promise<string> {
    const { userId } = request;
    if (caller.userId !== undefined && caller.userId !== userId) throw new ReplyRefused('refused', GenerationErrors.callerMismatch());
    if (normalizedLength(request.turns) > MAX_CONVERSATION_CHARS) throw new ReplyRefused('refused', GenerationErrors.conversationTooLong(MAX_CONVERSATION_CHARS));
    if (await this.tombstones.isErased(userId)) throw new ReplyRefused('account_deleted', GenerationErrors.accountDeleted());
    // R7.3: chat checked it when the message came; checked again here, as a restriction may have come into force since.
    if (await this.restrictions.isRestricted(userId)) throw new ReplyRefused('processing_restricted', GenerationErrors.processingRestricted());

    const identifiers = await this.identifiersOf(userId, caller);
    // A deadline of its own: the http adapter's attempts and backoffs together can outlast any caller.
    const deadline = AbortSignal.timeout(this.config.CHAT_REPLY_TIMEOUT_MS);
    let text: string;
    try {
      const result = await this.egress.dispatch(
        { kind: 'text', prompt: renderConversation(request.turns), options: { style: request.style }, inputs: [], promptLimit: 'conversation' },
        identifiers,
        deadline,
      );
      // checkResult has made sure a `text` dispatch answers non-empty text of bounded length.
      if (result.type !== 'text') throw new ContractorError('invalid_result', 'a reply must be text');
      text = result.text;
    } catch (error) {
      if (error instanceof ContractorError) throw new ReplyRefused(error.code, answerTo(error.code));
      if (deadline.aborted) throw new ReplyRefused('contractor_timeout', GenerationErrors.replyFailed());
      throw error;
    }

    const verdict = await this.moderator.text(text);
    if (!verdict.allowed) {
      await this.announceRejection(userId, verdict.rule);
      throw new ReplyRefused('content_rejected', GenerationErrors.replyRejected());
    }
    return text;
  }

  /** The user's email and username, for the scrubber of this one dispatch; never stored or logged. */
  private async identifiersOf(userId: string, caller: CallerContext): Promise<UserIdentifiers> {
    try {
      return await this.rpc.call(IdentityRpc.GetIdentifiersRoute, { userId }, { requestId: caller.requestId, userId });
    } catch (error) {
      this.logger.warn({ err: error, requestId: caller.requestId }, 'identifiers unavailable; the chat reply fails closed');
      throw new ReplyRefused('identifiers_unavailable', GenerationErrors.identifiersUnavailable());
    }
  }

  /** §12.2: the rule that matched, never the reply. */
  private async announceRejection(userId: string, rule: string): Promise<void> {
    try {
      await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        await this.outbox.append(ProhibitedContentDetectedV1, { userId, subjectKind: 'generated', rule, detectedAt: this.clock.now().toISOString() });
      });
    } catch (error) {
      if (error instanceof UserErased) throw new ReplyRefused('account_deleted', GenerationErrors.accountDeleted());
      throw error;
    }
  }
}

function answerTo(code: ContractorErrorCode): RpcError {
  switch (code) {
    case 'anonymization_failed':
      return GenerationErrors.conversationNotAnonymous();
    case 'contractor_unavailable':
      return GenerationErrors.contractorUnavailable();
    case 'contractor_timeout':
    case 'contractor_rejected':
    case 'invalid_result':
      return GenerationErrors.replyFailed();
  }
}

import { Injectable } from '@nestjs/common';
import { ChatConsumers, ChatHistoryExpiredV1, ChatRpc, exportSliceRoute, PrimeStatusChangedV1, ProcessingRestrictionChangedV1, UserDeletedV1, type CallerContext, type EventPayload, type ExportSlicePage, type RpcRequest } from '@homiwork/contracts';
import type { EventContext } from '@homiwork/messaging';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { ClearMessages } from './usecases/clear-messages/clear-messages.usecase.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { ListAssistants } from './usecases/list-assistants/list-assistants.usecase.js';
import { ListMessages } from './usecases/list-messages/list-messages.usecase.js';
import { PurgeExpired } from './usecases/purge-expired/purge-expired.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { RecordRestriction } from '@homiwork/persistence';
import { SendMessage } from './usecases/send-message/send-message.usecase.js';

/**
 * Chat's request/reply routes and event handlers: each hands over to one use case.
 * Event handlers run inside the consumer's transaction, which the use cases join.
 */
@Injectable()
export class ChatHandlers {
  constructor(
    private readonly listAssistants: ListAssistants,
    private readonly sendMessage: SendMessage,
    private readonly listMessages: ListMessages,
    private readonly clearMessages: ClearMessages,
    private readonly recordPrimeStatus: RecordPrimeStatus,
    private readonly recordRestriction: RecordRestriction,
    private readonly purgeExpired: PurgeExpired,
    private readonly purgeUser: PurgeUser,
    private readonly exportSlice: ExportSlice,
  ) {}

  @OnRpc(ChatRpc.ListAssistantsRoute)
  assistants(): Promise<{ items: ChatRpc.Assistant[] }> {
    return Promise.resolve(this.listAssistants.execute());
  }

  @OnRpc(ChatRpc.SendMessageRoute)
  send(request: RpcRequest<typeof ChatRpc.SendMessageRoute>, caller: CallerContext) {
    return this.sendMessage.execute(request, caller);
  }

  @OnRpc(ChatRpc.ListMessagesRoute)
  list(request: RpcRequest<typeof ChatRpc.ListMessagesRoute>, caller: CallerContext) {
    return this.listMessages.execute(request.assistantId, caller);
  }

  @OnRpc(ChatRpc.ClearMessagesRoute)
  clear(request: RpcRequest<typeof ChatRpc.ClearMessagesRoute>, caller: CallerContext) {
    return this.clearMessages.execute(request.assistantId, caller);
  }

  /** R7.1, retention only: one page of the user's conversations and messages (decrypted) for the export archive. */
  @OnRpc(exportSliceRoute('chat'))
  exportSlicePage(request: RpcRequest<ReturnType<typeof exportSliceRoute<'chat'>>>): Promise<ExportSlicePage> {
    return this.exportSlice.execute(request);
  }

  /** R1.5: the user's data goes, their key is destroyed, a tombstone stays. The message id is the receipt's trigger: stable across redeliveries. */
  @OnEvent(ChatConsumers.userDeleted)
  userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    return this.purgeUser.execute(payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }

  @OnEvent(ChatConsumers.primeStatusChanged)
  async primeStatusChanged(payload: EventPayload<typeof PrimeStatusChangedV1>): Promise<void> {
    await this.recordPrimeStatus.execute(payload);
  }

  /** R7.3: a restriction or objection came into force or was lifted (SendMessage reads it). */
  @OnEvent(ChatConsumers.processingRestrictionChanged)
  async processingRestrictionChanged(payload: EventPayload<typeof ProcessingRestrictionChangedV1>): Promise<void> {
    await this.recordRestriction.execute(payload);
  }

  /** Deletes only what chat's own rule says is due (PurgeExpired.notice). */
  @OnEvent(ChatConsumers.chatHistoryExpired)
  async chatHistoryExpired(payload: EventPayload<typeof ChatHistoryExpiredV1>, context: EventContext): Promise<void> {
    await this.purgeExpired.notice(payload, { type: ChatHistoryExpiredV1.type, messageId: context.messageId });
  }
}

import { Injectable } from '@nestjs/common';
import { ContentExpiredV1, exportSliceRoute, GenerationConsumers, GenerationRpc, PrimeStatusChangedV1, ProcessingRestrictionChangedV1, UserDeletedV1, type CallerContext, type EventPayload, type ExportSlicePage, type RpcRequest } from '@homiwork/contracts';
import type { EventContext } from '@homiwork/messaging';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { ChatReply } from './usecases/chat-reply/chat-reply.usecase.js';
import { CreateGeneration } from './usecases/create-generation/create-generation.usecase.js';
import { DeleteContent } from './usecases/delete-content/delete-content.usecase.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { GetContent } from './usecases/get-content/get-content.usecase.js';
import { GetContentFile } from './usecases/get-content-file/get-content-file.usecase.js';
import { GetGeneration } from './usecases/get-generation/get-generation.usecase.js';
import { ListContents } from './usecases/list-contents/list-contents.usecase.js';
import { PurgeContent } from './usecases/purge-content/purge-content.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { RecordRestriction } from '@homiwork/persistence';
import { RestoreContent } from './usecases/restore-content/restore-content.usecase.js';

/**
 * Generation's request/reply routes and event handlers: each hands over to one use case.
 * Event handlers run inside the consumer's transaction, which the use cases join.
 */
@Injectable()
export class GenerationHandlers {
  constructor(
    private readonly createGeneration: CreateGeneration,
    private readonly getGeneration: GetGeneration,
    private readonly listContents: ListContents,
    private readonly getContent: GetContent,
    private readonly getContentFile: GetContentFile,
    private readonly deleteContent: DeleteContent,
    private readonly restoreContent: RestoreContent,
    private readonly recordPrimeStatus: RecordPrimeStatus,
    private readonly recordRestriction: RecordRestriction,
    private readonly purgeContent: PurgeContent,
    private readonly purgeUser: PurgeUser,
    private readonly chatReply: ChatReply,
    private readonly exportSlice: ExportSlice,
  ) {}

  @OnRpc(GenerationRpc.CreateGenerationRoute)
  create(request: RpcRequest<typeof GenerationRpc.CreateGenerationRoute>, caller: CallerContext) {
    return this.createGeneration.execute(request, caller);
  }

  @OnRpc(GenerationRpc.GetGenerationRoute)
  get(request: RpcRequest<typeof GenerationRpc.GetGenerationRoute>, caller: CallerContext): Promise<GenerationRpc.Generation> {
    return this.getGeneration.execute(request.id, caller);
  }

  @OnRpc(GenerationRpc.ListContentsRoute)
  list(request: RpcRequest<typeof GenerationRpc.ListContentsRoute>, caller: CallerContext): Promise<{ items: GenerationRpc.Content[] }> {
    return this.listContents.execute(request.deleted, caller);
  }

  @OnRpc(GenerationRpc.GetContentRoute)
  content(request: RpcRequest<typeof GenerationRpc.GetContentRoute>, caller: CallerContext): Promise<GenerationRpc.Content> {
    return this.getContent.execute(request.id, caller);
  }

  @OnRpc(GenerationRpc.GetContentFileRoute)
  file(request: RpcRequest<typeof GenerationRpc.GetContentFileRoute>, caller: CallerContext) {
    return this.getContentFile.execute(request.id, caller);
  }

  @OnRpc(GenerationRpc.DeleteContentRoute)
  delete(request: RpcRequest<typeof GenerationRpc.DeleteContentRoute>, caller: CallerContext): Promise<Record<string, never>> {
    return this.deleteContent.execute(request.id, caller);
  }

  @OnRpc(GenerationRpc.RestoreContentRoute)
  restore(request: RpcRequest<typeof GenerationRpc.RestoreContentRoute>, caller: CallerContext): Promise<GenerationRpc.Content> {
    return this.restoreContent.execute(request.id, caller);
  }

  /** Service-to-service (chat): a reply through the anonymizing egress; nothing is stored. */
  @OnRpc(GenerationRpc.ChatReplyRoute)
  reply(request: RpcRequest<typeof GenerationRpc.ChatReplyRoute>, caller: CallerContext): Promise<{ text: string }> {
    return this.chatReply.execute(request, caller);
  }

  /** R7.1, retention only: one page of the user's job records, content and its files for the export archive. */
  @OnRpc(exportSliceRoute('generation'))
  exportSlicePage(request: RpcRequest<ReturnType<typeof exportSliceRoute<'generation'>>>): Promise<ExportSlicePage> {
    return this.exportSlice.execute(request);
  }

  /** R1.5: the user's data goes and a tombstone stays. The message id is the receipt's trigger: stable across redeliveries. */
  @OnEvent(GenerationConsumers.userDeleted)
  userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    return this.purgeUser.execute(payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }

  /** Deletes only what generation's own record says is due (PurgeContent.one). */
  @OnEvent(GenerationConsumers.contentExpired)
  async contentExpired(payload: EventPayload<typeof ContentExpiredV1>, context: EventContext): Promise<void> {
    await this.purgeContent.one(payload.contentId, payload.userId, { type: ContentExpiredV1.type, messageId: context.messageId });
  }

  @OnEvent(GenerationConsumers.primeStatusChanged)
  async primeStatusChanged(payload: EventPayload<typeof PrimeStatusChangedV1>): Promise<void> {
    await this.recordPrimeStatus.execute(payload);
  }

  /** R7.3: a restriction or objection came into force or was lifted (CreateGeneration reads it). */
  @OnEvent(GenerationConsumers.processingRestrictionChanged)
  async processingRestrictionChanged(payload: EventPayload<typeof ProcessingRestrictionChangedV1>): Promise<void> {
    await this.recordRestriction.execute(payload);
  }
}

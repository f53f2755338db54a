import { Injectable } from '@nestjs/common';
import { ContentDeletedV1, exportSliceRoute, MediaConsumers, MediaRpc, UploadExpiredV1, UserDeletedV1, type CallerContext, type EventPayload, type ExportSlicePage, type RpcRequest } from '@homiwork/contracts';
import type { EventContext } from '@homiwork/messaging';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { DeleteUpload } from './usecases/delete-upload/delete-upload.usecase.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { GetUpload } from './usecases/get-upload/get-upload.usecase.js';
import { ListUploads } from './usecases/list-uploads/list-uploads.usecase.js';
import { PurgeUploads } from './usecases/purge-uploads/purge-uploads.usecase.js';

/**
 * Media's request/reply routes and event handlers: each hands over to one use case.
 * Event handlers run inside the consumer's transaction, which the use cases join.
 * (Upload and download bytes travel over the internal HTTP routes instead.)
 */
@Injectable()
export class MediaHandlers {
  constructor(
    private readonly listUploads: ListUploads,
    private readonly getUpload: GetUpload,
    private readonly deleteUpload: DeleteUpload,
    private readonly purge: PurgeUploads,
    private readonly exportSlice: ExportSlice,
  ) {}

  @OnRpc(MediaRpc.ListUploadsRoute)
  list(_request: unknown, caller: CallerContext): Promise<{ items: MediaRpc.Upload[] }> {
    return this.listUploads.execute(caller);
  }

  @OnRpc(MediaRpc.GetUploadRoute)
  get(request: RpcRequest<typeof MediaRpc.GetUploadRoute>, caller: CallerContext): Promise<MediaRpc.Upload> {
    return this.getUpload.execute(request.id, caller);
  }

  @OnRpc(MediaRpc.DeleteUploadRoute)
  delete(request: RpcRequest<typeof MediaRpc.DeleteUploadRoute>, caller: CallerContext): Promise<Record<string, never>> {
    return this.deleteUpload.execute(request.id, caller);
  }

  /** R7.1, retention only: one page of the user's uploads and their files for the export archive. */
  @OnRpc(exportSliceRoute('media'))
  exportSlicePage(request: RpcRequest<ReturnType<typeof exportSliceRoute<'media'>>>): Promise<ExportSlicePage> {
    return this.exportSlice.execute(request);
  }

  /** The message id is the purge receipt's trigger: stable across redeliveries. */
  @OnEvent(MediaConsumers.userDeleted)
  userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    return this.purge.allOfUser(payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }

  @OnEvent(MediaConsumers.uploadExpired)
  uploadExpired(payload: EventPayload<typeof UploadExpiredV1>, context: EventContext): Promise<void> {
    return this.purge.one(payload.uploadId, payload.userId, { type: UploadExpiredV1.type, messageId: context.messageId });
  }

  /** §2.1.6: content the user deleted takes its source uploads with it. */
  @OnEvent(MediaConsumers.contentDeleted)
  contentDeleted(payload: EventPayload<typeof ContentDeletedV1>, context: EventContext): Promise<void> {
    return this.purge.ofDeletedContent(payload.userId, payload.sourceUploadIds, { type: ContentDeletedV1.type, messageId: context.messageId });
  }
}

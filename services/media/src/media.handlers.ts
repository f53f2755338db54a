import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MediaConsumers, MediaRpc, UploadExpiredV1, UserDeletedV1, type CallerContext, type EventPayload, type RpcRequest } from '@homiwork/contracts';
import { RpcError, type EventContext } from '@homiwork/messaging';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { toUpload, UploadsRepository } from './persistence/uploads.repository.js';
import { DeleteUpload } from './usecases/delete-upload/delete-upload.usecase.js';
import { PurgeUploads } from './usecases/purge-uploads/purge-uploads.usecase.js';

@Injectable()
export class MediaHandlers {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uploads: UploadsRepository,
    private readonly deleteUpload: DeleteUpload,
    private readonly purge: PurgeUploads,
  ) {}

  @OnRpc(MediaRpc.ListUploadsRoute)
  async list(_request: unknown, caller: CallerContext): Promise<{ items: MediaRpc.Upload[] }> {
    return { items: (await this.uploads.listOwned(this.dataSource.manager, requireUser(caller))).map(toUpload) };
  }

  @OnRpc(MediaRpc.GetUploadRoute)
  async get(request: RpcRequest<typeof MediaRpc.GetUploadRoute>, caller: CallerContext): Promise<MediaRpc.Upload> {
    const row = await this.uploads.findOwned(this.dataSource.manager, requireUser(caller), request.id);
    if (!row) throw new RpcError(404, 'not_found', 'no such upload');
    return toUpload(row);
  }

  @OnRpc(MediaRpc.DeleteUploadRoute)
  delete(request: RpcRequest<typeof MediaRpc.DeleteUploadRoute>, caller: CallerContext): Promise<Record<string, never>> {
    return this.deleteUpload.execute(request.id, caller);
  }

  @OnEvent(MediaConsumers.userDeleted)
  async userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    await this.purge.allOfUser(context.manager, payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }

  @OnEvent(MediaConsumers.uploadExpired)
  async uploadExpired(payload: EventPayload<typeof UploadExpiredV1>, context: EventContext): Promise<void> {
    await this.purge.one(context.manager, payload.uploadId, payload.userId, { type: UploadExpiredV1.type, messageId: context.messageId });
  }
}

function requireUser(caller: CallerContext): string {
  if (!caller.userId) throw new RpcError(401, 'unauthorized', 'authentication required');
  return caller.userId;
}

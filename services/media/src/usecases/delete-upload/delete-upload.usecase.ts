import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { CallerContext } from '@homiwork/contracts';
import { RpcError } from '@homiwork/messaging';
import { ObjectStore } from '@homiwork/storage';
import { UploadsRepository } from '../../persistence/uploads.repository.js';

/** R3.4: the user deletes an upload now; the object goes first, then the row. */
@Injectable()
export class DeleteUpload {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<Record<string, never>> {
    const userId = caller.userId;
    if (!userId) throw new RpcError(401, 'unauthorized', 'authentication required');
    await this.dataSource.transaction(async (manager) => {
      const row = await this.uploads.findOwned(manager, userId, id);
      if (!row) throw new RpcError(404, 'not_found', 'no such upload');
      await this.store.remove([row.object_key]);
      await this.uploads.deleteById(manager, id);
    });
    return {};
  }
}

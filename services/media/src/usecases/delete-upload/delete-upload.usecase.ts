import { Injectable } from '@nestjs/common';
import type { CallerContext } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { MediaErrors } from '../../media-errors.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';

/** R3.4: the user deletes an upload now; the object goes first, then the row. */
@Injectable()
export class DeleteUpload {
  constructor(
    private readonly transactor: Transactor,
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<Record<string, never>> {
    const userId = caller.userId;
    if (!userId) throw MediaErrors.unauthenticated();
    await this.transactor.run(async () => {
      const upload = await this.uploads.findOwned(userId, id);
      if (!upload) throw MediaErrors.uploadNotFound();
      await this.store.remove([upload.objectKey]);
      await this.uploads.deleteById(id);
    });
    return {};
  }
}

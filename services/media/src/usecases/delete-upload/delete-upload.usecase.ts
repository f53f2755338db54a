import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
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
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<Record<string, never>> {
    const userId = caller.userId;
    if (!userId) throw MediaErrors.unauthenticated();
    await this.transactor.run(async () => {
      // Past its 7 days an upload is gone for the user (404, as for reads); the sweeper
      // removes it with its receipt.
      const upload = await this.uploads.findOwnedLive(userId, id, this.clock.now());
      if (!upload) throw MediaErrors.uploadNotFound();
      await this.store.remove([upload.objectKey]);
      await this.uploads.deleteById(id);
    });
    return {};
  }
}

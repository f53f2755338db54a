import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext, MediaRpc } from '@homiwork/contracts';
import { MediaErrors } from '../../media-errors.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';
import { toUploadView } from '../upload-view.js';

/** The caller's live uploads, newest first (at most 500: they live 7 days); expired ones are not listed even before the sweep. */
@Injectable()
export class ListUploads {
  constructor(
    private readonly uploads: UploadsRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(caller: CallerContext): Promise<{ items: MediaRpc.Upload[] }> {
    if (!caller.userId) throw MediaErrors.unauthenticated();
    return { items: (await this.uploads.listOwnedLive(caller.userId, this.clock.now())).map(toUploadView) };
  }
}

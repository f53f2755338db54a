import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext, MediaRpc } from '@homiwork/contracts';
import { MediaErrors } from '../../media-errors.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';
import { toUploadView } from '../upload-view.js';

/** One of the caller's own live uploads; anyone else's, or one past its 7 days, is not found (404, never 403). */
@Injectable()
export class GetUpload {
  constructor(
    private readonly uploads: UploadsRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<MediaRpc.Upload> {
    if (!caller.userId) throw MediaErrors.unauthenticated();
    const upload = await this.uploads.findOwnedLive(caller.userId, id, this.clock.now());
    if (!upload) throw MediaErrors.uploadNotFound();
    return toUploadView(upload);
  }
}

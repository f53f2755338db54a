import { Injectable } from '@nestjs/common';
import type { CallerContext, MediaRpc } from '@homiwork/contracts';
import { MediaErrors } from '../../media-errors.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';
import { toUploadView } from '../upload-view.js';

/** One of the caller's own uploads; anyone else's is not found (404, never 403). */
@Injectable()
export class GetUpload {
  constructor(private readonly uploads: UploadsRepository) {}

  async execute(id: string, caller: CallerContext): Promise<MediaRpc.Upload> {
    if (!caller.userId) throw MediaErrors.unauthenticated();
    const upload = await this.uploads.findOwned(caller.userId, id);
    if (!upload) throw MediaErrors.uploadNotFound();
    return toUploadView(upload);
  }
}

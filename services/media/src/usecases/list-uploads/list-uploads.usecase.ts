import { Injectable } from '@nestjs/common';
import type { CallerContext, MediaRpc } from '@homiwork/contracts';
import { MediaErrors } from '../../media-errors.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';
import { toUploadView } from '../upload-view.js';

/** The caller's uploads, newest first (at most 500: they live 7 days). */
@Injectable()
export class ListUploads {
  constructor(private readonly uploads: UploadsRepository) {}

  async execute(caller: CallerContext): Promise<{ items: MediaRpc.Upload[] }> {
    if (!caller.userId) throw MediaErrors.unauthenticated();
    return { items: (await this.uploads.listOwned(caller.userId)).map(toUploadView) };
  }
}

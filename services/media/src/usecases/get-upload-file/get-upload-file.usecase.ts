import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext } from '@homiwork/contracts';
import { ObjectStore } from '@homiwork/storage';
import { MediaErrors } from '../../media-errors.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';

export interface UploadFile {
  mimeType: string;
  bytes: number;
  body: Readable;
}

/** The transformed bytes of one of the caller's own live uploads, streamed; anyone else's, or an expired one, is not found. */
@Injectable()
export class GetUploadFile {
  constructor(
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<UploadFile> {
    if (!caller.userId) throw MediaErrors.unauthenticated();
    if (!/^[0-9a-f-]{36}$/.test(id)) throw MediaErrors.uploadNotFound();
    const upload = await this.uploads.findOwnedLive(caller.userId, id, this.clock.now());
    if (!upload) throw MediaErrors.uploadNotFound();
    return { mimeType: upload.mimeType, bytes: upload.bytes, body: await this.store.get(upload.objectKey) };
  }
}

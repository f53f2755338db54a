import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import type { CallerContext } from '@homiwork/contracts';
import { ObjectStore } from '@homiwork/storage';
import { GenerationConfig } from '../../config.js';
import { GenerationErrors } from '../../generation-errors.js';
import { ContentsRepository } from '../../persistence/contents.repository.js';

/**
 * A signed URL of one of the caller's live items, valid CONTENT_URL_SECONDS (at most 15
 * minutes: whoever holds the link can read the file until then). An item in the trash has
 * no file to fetch until it is restored.
 */
@Injectable()
export class GetContentFile {
  constructor(
    private readonly contents: ContentsRepository,
    private readonly store: ObjectStore,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  async execute(id: string, caller: CallerContext): Promise<{ url: string; mimeType: string; bytes: number; expiresAt: string }> {
    if (!caller.userId) throw GenerationErrors.unauthenticated();
    const now = this.clock.now();
    const content = await this.contents.findOwned(caller.userId, id, now, addDays(now, -this.config.CONTENT_TRASH_DAYS));
    if (!content || content.deletedAt) throw GenerationErrors.contentNotFound();
    const seconds = this.config.CONTENT_URL_SECONDS;
    const url = await this.store.signedGetUrl(content.objectKey, seconds);
    // The URL is signed by the wall clock of the signer; the answer says when it stops working by it too.
    return { url, mimeType: content.mimeType, bytes: content.bytes, expiresAt: new Date(now.getTime() + seconds * 1000).toISOString() };
  }
}

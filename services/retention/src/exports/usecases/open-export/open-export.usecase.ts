import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { RetentionRpc, RpcResponse } from '@homiwork/contracts';
import { DataKeyError, UserDataKeys } from '@homiwork/data-keys';
import { ObjectStore } from '@homiwork/storage';
import { archiveFileName, EXPORT_OBJECT_URL_SECONDS } from '../../domain/archive-format.js';
import { ExportErrors } from '../../export-errors.js';
import { ExportsRepository } from '../../persistence/exports.repository.js';

/**
 * The gateway's download of an archive (public route: the link's token is the key). The
 * token is checked against its stored SHA-256 in constant time (a wrong one is 404, saying
 * nothing of whether the export exists), then the expiry (410 `link_expired`; also once the
 * sweeper has deleted the archive, for an export a request once had). The answer: a
 * presigned GET of the encrypted object (EXPORT_OBJECT_URL_SECONDS) and the archive's
 * one-off key, nonce and tag, which the gateway decrypts with while streaming.
 */
@Injectable()
export class OpenExport {
  constructor(
    private readonly exports: ExportsRepository,
    private readonly keys: UserDataKeys,
    private readonly store: ObjectStore,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(exportId: string, token: string): Promise<RpcResponse<typeof RetentionRpc.OpenExportRoute>> {
    const ready = await this.exports.findReady(exportId);
    if (!ready) throw (await this.exports.existedOnce(exportId)) ? ExportErrors.linkExpired() : ExportErrors.notFound();
    const presented = createHash('sha256').update(token).digest();
    if (ready.tokenHash.length !== presented.length || !timingSafeEqual(ready.tokenHash, presented)) throw ExportErrors.notFound();
    if (ready.expiresAt.getTime() <= this.clock.now().getTime()) throw ExportErrors.linkExpired();
    let key: string;
    try {
      key = await this.keys.open(ready.userId, ready.wrappedKey);
    } catch (error) {
      // The user's key is destroyed (erased): the archive is unreadable, as promised.
      if (error instanceof DataKeyError) throw ExportErrors.linkExpired();
      throw error;
    }
    return {
      url: await this.store.signedGetUrl(ready.objectKey, EXPORT_OBJECT_URL_SECONDS),
      bytes: ready.bytes,
      fileName: archiveFileName(ready.readyAt),
      key,
      iv: ready.iv.toString('base64'),
      tag: ready.tag.toString('base64'),
    };
  }
}

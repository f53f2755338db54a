import { Injectable } from '@nestjs/common';
import { EXPORT_PAGE_TARGET_BYTES, type ExportSlicePage } from '@homiwork/contracts';
import { MAX_SIGNED_URL_SECONDS, ObjectStore } from '@homiwork/storage';
import { fileExtension } from '@homiwork/service-kit';
import { readExportPage, TIME_ID_KEY, type ExportRow } from '@homiwork/service-kit';
import { ExportSliceRepository, type ExportedUpload } from './export-slice.repository.js';

/**
 * R7.1: one page of what media holds about a user, for retention's export archive — every
 * upload's facts (never its object key) and its stored (transformed) bytes through a signed
 * GET URL of at most 15 minutes, which retention fetches while building the archive. Only
 * the user named in the request: every read is scoped to them.
 */
@Injectable()
export class ExportSlice {
  constructor(
    private readonly rows: ExportSliceRepository,
    private readonly store: ObjectStore,
  ) {}

  execute(request: { userId: string; cursor?: string | undefined }, targetBytes: number = EXPORT_PAGE_TARGET_BYTES): Promise<ExportSlicePage> {
    const { userId } = request;
    return readExportPage(
      [
        {
          name: 'uploads',
          key: TIME_ID_KEY,
          read: async (after, limit) => Promise.all((await this.rows.uploadsAfter(userId, after, limit)).map((upload) => this.exported(upload))),
        },
      ],
      request.cursor,
      targetBytes,
    );
  }

  private async exported(upload: ExportedUpload): Promise<ExportRow> {
    const path = `uploads/${upload.id}.${fileExtension(upload.mimeType)}`;
    return {
      key: upload.key,
      item: {
        id: upload.id,
        kind: upload.kind,
        mimeType: upload.mimeType,
        bytes: upload.bytes,
        width: upload.width,
        height: upload.height,
        durationMs: upload.durationMs,
        createdAt: upload.createdAt.toISOString(),
        expiresAt: upload.expiresAt.toISOString(),
        file: path,
      },
      file: { path, url: await this.store.signedGetUrl(upload.objectKey, MAX_SIGNED_URL_SECONDS), mimeType: upload.mimeType, bytes: upload.bytes },
    };
  }
}

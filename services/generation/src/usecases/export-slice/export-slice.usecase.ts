import { Injectable } from '@nestjs/common';
import { EXPORT_PAGE_TARGET_BYTES, type ExportSlicePage } from '@homiwork/contracts';
import { MAX_SIGNED_URL_SECONDS, ObjectStore } from '@homiwork/storage';
import { readExportPage, TIME_ID_KEY, type ExportRow } from '@homiwork/service-kit';
import { ExportSliceRepository, type ExportedContent, type ExportedJob } from './export-slice.repository.js';
import { fileExtension } from '@homiwork/service-kit';

/**
 * R7.1: one page of what generation holds about a user, for retention's export archive —
 * the job records still kept (with the prompt only while it is still stored: it is dropped
 * when a job ends), every content item still stored (live or in the trash) with its bytes
 * through a signed GET URL of at most 15 minutes. Never an object key, never another user's
 * row: every read is scoped to the user named in the request.
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
        { name: 'jobs', key: TIME_ID_KEY, read: async (after, limit) => (await this.rows.jobsAfter(userId, after, limit)).map(jobRow) },
        { name: 'contents', key: TIME_ID_KEY, read: async (after, limit) => Promise.all((await this.rows.contentsAfter(userId, after, limit)).map((content) => this.contentRow(content))) },
      ],
      request.cursor,
      targetBytes,
    );
  }

  private async contentRow(content: ExportedContent): Promise<ExportRow> {
    const path = `contents/${content.id}.${fileExtension(content.mimeType)}`;
    return {
      key: content.key,
      item: {
        id: content.id,
        jobId: content.jobId,
        kind: content.kind,
        mimeType: content.mimeType,
        bytes: content.bytes,
        sourceUploadIds: content.sourceUploadIds,
        createdAt: content.createdAt.toISOString(),
        expiresAt: content.expiresAt?.toISOString() ?? null,
        deletedAt: content.deletedAt?.toISOString() ?? null,
        file: path,
      },
      file: { path, url: await this.store.signedGetUrl(content.objectKey, MAX_SIGNED_URL_SECONDS), mimeType: content.mimeType, bytes: content.bytes },
    };
  }
}

function jobRow(job: ExportedJob): ExportRow {
  return {
    key: job.key,
    item: {
      id: job.id,
      kind: job.kind,
      status: job.status,
      ...(job.prompt === null ? {} : { prompt: job.prompt }),
      style: job.style,
      uploadIds: job.uploadIds,
      cost: job.cost,
      contentId: job.contentId,
      failure: job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage ?? '' },
      createdAt: job.createdAt.toISOString(),
      startedAt: job.startedAt?.toISOString() ?? null,
      finishedAt: job.finishedAt?.toISOString() ?? null,
    },
  };
}

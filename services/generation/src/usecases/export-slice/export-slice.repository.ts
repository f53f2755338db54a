import { Injectable } from '@nestjs/common';
import type { GenerationRpc } from '@homiwork/contracts';
import { Database } from '@homiwork/persistence';
import type { JobStatus } from '../../domain/job-state.js';
import { TIME_ID_KEY_SQL, timeIdAfter } from '@homiwork/service-kit';

/** A job as the export reads it; the prompt is there only while the job has not ended (it is NULL after). */
export interface ExportedJob {
  key: string;
  id: string;
  kind: GenerationRpc.GenerationKind;
  status: JobStatus;
  prompt: string | null;
  style: string | null;
  uploadIds: string[];
  cost: number | null;
  contentId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A content item as the export reads it, with the object to fetch. */
export interface ExportedContent {
  key: string;
  id: string;
  jobId: string;
  kind: GenerationRpc.GenerationKind;
  mimeType: string;
  bytes: number;
  objectKey: string;
  sourceUploadIds: string[];
  createdAt: Date;
  expiresAt: Date | null;
  deletedAt: Date | null;
}

const AFTER = '($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))';

/** The export's reads of generation's tables: one user's rows only, in page-key order (oldest first). */
@Injectable()
export class ExportSliceRepository {
  constructor(private readonly db: Database) {}

  /** Every job record still kept for the user. */
  async jobsAfter(userId: string, after: string | null, limit: number): Promise<ExportedJob[]> {
    const [createdAt, id] = timeIdAfter(after);
    return this.db.query<ExportedJob[]>(
      `SELECT ${TIME_ID_KEY_SQL} AS key, id, kind, status, prompt, style, upload_ids AS "uploadIds", cost, content_id AS "contentId",
              error_code AS "errorCode", error_message AS "errorMessage", created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"
         FROM jobs WHERE user_id = $1 AND ${AFTER} ORDER BY created_at, id LIMIT $4`,
      [userId, createdAt, id, limit],
    );
  }

  /** Every content item still stored for the user: live, in the trash, or past its days but not yet swept. */
  async contentsAfter(userId: string, after: string | null, limit: number): Promise<ExportedContent[]> {
    const [createdAt, id] = timeIdAfter(after);
    const rows = await this.db.query<Array<Omit<ExportedContent, 'bytes'> & { bytes: string }>>(
      `SELECT ${TIME_ID_KEY_SQL} AS key, id, job_id AS "jobId", kind, mime_type AS "mimeType", bytes, object_key AS "objectKey",
              source_upload_ids AS "sourceUploadIds", created_at AS "createdAt", expires_at AS "expiresAt", deleted_at AS "deletedAt"
         FROM contents WHERE user_id = $1 AND ${AFTER} ORDER BY created_at, id LIMIT $4`,
      [userId, createdAt, id, limit],
    );
    // bigint comes back as a string; results are megabytes, far inside a double.
    return rows.map((row) => ({ ...row, bytes: Number(row.bytes) }));
  }
}

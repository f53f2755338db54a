import { Injectable } from '@nestjs/common';
import type { MediaRpc } from '@homiwork/contracts';
import { Database } from '@homiwork/persistence';
import { TIME_ID_KEY_SQL, timeIdAfter } from '@homiwork/service-kit';

/** An upload as the export reads it: the facts the user is shown, the object to fetch, and the row's page key. */
export interface ExportedUpload {
  key: string;
  id: string;
  kind: MediaRpc.Upload['kind'];
  mimeType: string;
  bytes: number;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  objectKey: string;
  createdAt: Date;
  expiresAt: Date;
}

/** The export's reads of media's tables: one user's rows only, in page-key order. */
@Injectable()
export class ExportSliceRepository {
  constructor(private readonly db: Database) {}

  /** Every upload media still holds for the user (live or past its days but not yet swept), oldest first. */
  async uploadsAfter(userId: string, after: string | null, limit: number): Promise<ExportedUpload[]> {
    const [createdAt, id] = timeIdAfter(after);
    const rows = await this.db.query<Array<Omit<ExportedUpload, 'bytes'> & { bytes: string }>>(
      `SELECT ${TIME_ID_KEY_SQL} AS key, id, kind, mime_type AS "mimeType", bytes, width, height, duration_ms AS "durationMs",
              object_key AS "objectKey", created_at AS "createdAt", expires_at AS "expiresAt"
         FROM uploads
        WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4`,
      [userId, createdAt, id, limit],
    );
    // bigint comes back as a string; files are at most a few hundred MB, far inside a double.
    return rows.map((row) => ({ ...row, bytes: Number(row.bytes) }));
  }
}

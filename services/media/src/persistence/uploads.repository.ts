import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { MediaRpc } from '@homiwork/contracts';

export interface UploadRow {
  id: string;
  user_id: string;
  kind: MediaRpc.Upload['kind'];
  mime_type: string;
  bytes: string;
  width: number | null;
  height: number | null;
  duration_ms: number | null;
  object_key: string;
  created_at: Date;
  expires_at: Date;
}

export function toUpload(row: UploadRow): MediaRpc.Upload {
  return {
    id: row.id,
    kind: row.kind,
    mimeType: row.mime_type,
    bytes: Number(row.bytes),
    ...(row.width ? { width: row.width } : {}),
    ...(row.height ? { height: row.height } : {}),
    ...(row.duration_ms !== null ? { durationMs: row.duration_ms } : {}),
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
  };
}

@Injectable()
export class UploadsRepository {
  async insert(
    manager: EntityManager,
    upload: { id: string; userId: string; kind: UploadRow['kind']; mimeType: string; bytes: number; width?: number; height?: number; durationMs?: number; objectKey: string; createdAt: Date; expiresAt: Date },
  ): Promise<UploadRow> {
    const [row] = await manager.query<UploadRow[]>(
      `INSERT INTO uploads (id, user_id, kind, mime_type, bytes, width, height, duration_ms, object_key, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [upload.id, upload.userId, upload.kind, upload.mimeType, upload.bytes, upload.width ?? null, upload.height ?? null, upload.durationMs ?? null, upload.objectKey, upload.createdAt, upload.expiresAt],
    );
    return row!;
  }

  /** Scoped by owner: another user's id is simply not found (API.md: 404, never 403). */
  async findOwned(manager: EntityManager, userId: string, id: string): Promise<UploadRow | undefined> {
    const [row] = await manager.query<UploadRow[]>('SELECT * FROM uploads WHERE id = $1 AND user_id = $2', [id, userId]);
    return row;
  }

  async listOwned(manager: EntityManager, userId: string): Promise<UploadRow[]> {
    return manager.query<UploadRow[]>('SELECT * FROM uploads WHERE user_id = $1 ORDER BY created_at DESC LIMIT 500', [userId]);
  }

  async findById(manager: EntityManager, id: string): Promise<UploadRow | undefined> {
    const [row] = await manager.query<UploadRow[]>('SELECT * FROM uploads WHERE id = $1 FOR UPDATE', [id]);
    return row;
  }

  async deleteById(manager: EntityManager, id: string): Promise<number> {
    const [, count] = await manager.query<[unknown[], number]>('DELETE FROM uploads WHERE id = $1', [id]);
    return count;
  }

  async deleteAllOfUser(manager: EntityManager, userId: string): Promise<number> {
    const [, count] = await manager.query<[unknown[], number]>('DELETE FROM uploads WHERE user_id = $1', [userId]);
    return count;
  }

  async expiredBefore(manager: EntityManager, now: Date, limit: number): Promise<UploadRow[]> {
    return manager.query<UploadRow[]>('SELECT * FROM uploads WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED', [now, limit]);
  }
}

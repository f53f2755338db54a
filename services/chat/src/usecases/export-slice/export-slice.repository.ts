import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';
import type { MessageRole, MessageStatus } from '../../persistence/messages.repository.js';

/** An assistant's id as it appears in a page key. */
export const ASSISTANT_KEY = /^[a-z0-9-]{1,40}$/;
/** `<assistant id>|<ISO time with microseconds>|<uuid>`: messages in (assistant_id, created_at, id) order. */
export const MESSAGE_KEY = /^[a-z0-9-]{1,40}\|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ExportedConversation {
  assistantId: string;
  lastMessageAt: Date;
}

/** A stored message as the export reads it: still sealed (the use case opens it with the user's key). */
export interface ExportedMessage {
  key: string;
  id: string;
  assistantId: string;
  role: MessageRole;
  sealed: Buffer;
  status: MessageStatus;
  createdAt: Date;
}

/** The export's reads of chat's tables: one user's rows only, in page-key order. */
@Injectable()
export class ExportSliceRepository {
  constructor(private readonly db: Database) {}

  async conversationsAfter(userId: string, after: string | null, limit: number): Promise<ExportedConversation[]> {
    return this.db.query<ExportedConversation[]>(
      `SELECT assistant_id AS "assistantId", last_message_at AS "lastMessageAt" FROM conversations
        WHERE user_id = $1 AND ($2::text IS NULL OR assistant_id > $2) ORDER BY assistant_id LIMIT $3`,
      [userId, after, limit],
    );
  }

  /** Conversation by conversation, oldest message first. */
  async messagesAfter(userId: string, after: string | null, limit: number): Promise<ExportedMessage[]> {
    const [assistantId = null, createdAt = null, id = null] = after === null ? [] : after.split('|');
    return this.db.query<ExportedMessage[]>(
      `SELECT assistant_id || '|' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || id::text AS key,
              id, assistant_id AS "assistantId", role, sealed, status, created_at AS "createdAt"
         FROM messages
        WHERE user_id = $1 AND ($2::text IS NULL OR (assistant_id, created_at, id) > ($2::text, $3::timestamptz, $4::uuid))
        ORDER BY assistant_id, created_at, id LIMIT $5`,
      [userId, assistantId, createdAt, id, limit],
    );
  }
}

import { Injectable } from '@nestjs/common';
import { EXPORT_PAGE_TARGET_BYTES, type ExportSlicePage } from '@homiwork/contracts';
import { DataKeyDestroyedError, UserDataKeys } from '@homiwork/data-keys';
import { RpcError } from '@homiwork/messaging';
import { readExportPage, type ExportRow } from '@homiwork/service-kit';
import { ASSISTANT_KEY, ExportSliceRepository, MESSAGE_KEY } from './export-slice.repository.js';

/**
 * R7.1: one page of what chat holds about a user, for retention's export archive — the
 * conversations (which assistants, and when last written to) and every stored message as
 * the user reads it: its text opened with the user's data key. Paged message by message (a
 * full conversation of long multibyte messages is several pages), and only the user named
 * in the request: every read is scoped to them, and their key opens nobody else's text.
 */
@Injectable()
export class ExportSlice {
  constructor(
    private readonly rows: ExportSliceRepository,
    private readonly keys: UserDataKeys,
  ) {}

  execute(request: { userId: string; cursor?: string | undefined }, targetBytes: number = EXPORT_PAGE_TARGET_BYTES): Promise<ExportSlicePage> {
    const { userId } = request;
    return readExportPage(
      [
        {
          name: 'conversations',
          key: ASSISTANT_KEY,
          read: async (after, limit) =>
            (await this.rows.conversationsAfter(userId, after, limit)).map(
              (conversation): ExportRow => ({ key: conversation.assistantId, item: { assistantId: conversation.assistantId, lastMessageAt: conversation.lastMessageAt.toISOString() } }),
            ),
        },
        {
          name: 'messages',
          key: MESSAGE_KEY,
          read: async (after, limit) => {
            const messages = await this.rows.messagesAfter(userId, after, limit);
            const texts = await this.open(userId, messages.map((message) => message.sealed));
            return messages.map(
              (message, index): ExportRow => ({
                key: message.key,
                item: { id: message.id, assistantId: message.assistantId, role: message.role, text: texts[index]!, status: message.status, createdAt: message.createdAt.toISOString() },
              }),
            );
          },
        },
      ],
      request.cursor,
      targetBytes,
    );
  }

  /** An erasure committing between the read and the decryption has destroyed the key: the user is gone, which the caller is told plainly. */
  private async open(userId: string, sealed: Buffer[]): Promise<string[]> {
    try {
      return await this.keys.openMany(userId, sealed);
    } catch (error) {
      if (error instanceof DataKeyDestroyedError) throw new RpcError(409, 'user_erased', 'userId: this user was erased while the export was read');
      throw error;
    }
  }
}

import { Injectable } from '@nestjs/common';
import { ChatRpc, type CallerContext } from '@homiwork/contracts';
import { DataKeyDestroyedError, UserDataKeys } from '@homiwork/data-keys';
import { ChatErrors } from '../../chat-errors.js';
import { findAssistant } from '../../domain/assistants.js';
import { MessagesRepository } from '../../persistence/messages.repository.js';

/**
 * R5.4: the caller's stored messages with one assistant, oldest first (at most 100: the
 * cap), decrypted with the caller's key. Only the caller's own rows are ever read: the user
 * id comes from the caller context, never from the request.
 */
@Injectable()
export class ListMessages {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly keys: UserDataKeys,
  ) {}

  async execute(assistantId: string, caller: CallerContext): Promise<{ items: ChatRpc.ChatMessage[] }> {
    const userId = caller.userId;
    if (!userId) throw ChatErrors.unauthenticated();
    if (!findAssistant(assistantId)) throw ChatErrors.assistantNotFound(assistantId);
    const rows = await this.messages.oldestFirst(userId, assistantId, ChatRpc.STORED_MESSAGES_PER_ASSISTANT);
    // An erasure committing between the read and the decryption has destroyed the key: the
    // account is gone, which is a 401 like every other request of a deleted account, not a 500.
    const texts = await this.keys.openMany(userId, rows.map((row) => row.sealed)).catch((error: unknown) => {
      if (error instanceof DataKeyDestroyedError) throw ChatErrors.accountDeleted();
      throw error;
    });
    return {
      items: rows.map((row, index) => ({ id: row.id, role: row.role, text: texts[index]!, status: row.status, createdAt: row.createdAt.toISOString() })),
    };
  }
}

import { ClearMessages, ListAssistants, ListMessages, SendMessage, type HttpResponse } from '@homiwork/contracts';
import type { ApiClient } from './api-client.js';

/** The assistant (chat) routes by name; a conversation is always the caller's own. */
export class AssistantsApi {
  constructor(private readonly client: ApiClient) {}

  list(): Promise<HttpResponse<typeof ListAssistants>> {
    return this.client.call(ListAssistants);
  }

  /** Sends a message and waits for the reply (201 with both). */
  send(assistantId: string, text: string): Promise<HttpResponse<typeof SendMessage>> {
    return this.client.call(SendMessage, { params: { assistantId }, body: { text } });
  }

  /** The stored conversation, oldest first. */
  messages(assistantId: string): Promise<HttpResponse<typeof ListMessages>> {
    return this.client.call(ListMessages, { params: { assistantId } });
  }

  async clear(assistantId: string): Promise<void> {
    await this.client.call(ClearMessages, { params: { assistantId } });
  }
}

import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';

/** An assistant of the catalogue (R5.1): its id is part of the URL, so short and URL-safe. */
export const AssistantId = z.string().regex(/^[a-z0-9-]{1,40}$/);
export const Assistant = z.strictObject({ id: AssistantId, name: z.string(), description: z.string() });
export type Assistant = z.infer<typeof Assistant>;

/** The longest message a user may send (characters, after trimming). */
export const MAX_MESSAGE_CHARS = 8_000;
/** §5.5: only the last 100 messages per user and assistant are stored — the user's and the replies together. */
export const STORED_MESSAGES_PER_ASSISTANT = 100;

export const ChatMessage = z.strictObject({
  id: z.uuid(),
  role: z.enum(['user', 'assistant']),
  text: z.string(),
  /** A user message whose reply failed stays, marked `unanswered`; replies are always `answered`. */
  status: z.enum(['answered', 'unanswered']),
  createdAt: z.iso.datetime(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const Conversation = z.strictObject({ assistantId: AssistantId });

export const ListAssistantsRoute = defineRoute({ service: 'chat', method: 'assistants.list', request: z.strictObject({}), response: z.strictObject({ items: z.array(Assistant) }) });
export const SendMessageRoute = defineRoute({
  service: 'chat',
  method: 'messages.send',
  request: Conversation.extend({ text: z.string().trim().min(1).max(MAX_MESSAGE_CHARS) }),
  response: z.strictObject({ message: ChatMessage, reply: ChatMessage }),
});
export const ListMessagesRoute = defineRoute({ service: 'chat', method: 'messages.list', request: Conversation, response: z.strictObject({ items: z.array(ChatMessage).max(STORED_MESSAGES_PER_ASSISTANT) }) });
export const ClearMessagesRoute = defineRoute({ service: 'chat', method: 'messages.clear', request: Conversation, response: z.strictObject({}) });

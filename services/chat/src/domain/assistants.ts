import type { ChatRpc } from '@homiwork/contracts';

/** An assistant of the catalogue and the style generation's egress writes its replies in. */
export interface AssistantEntry extends ChatRpc.Assistant {
  style: string;
}

/**
 * R5.1: the catalogue is code, not data — an assistant is a product decision reviewed like
 * code, and its style id is a contract with generation's egress.
 */
export const ASSISTANTS: readonly AssistantEntry[] = [
  { id: 'poem-helper', name: 'Poem helper', description: 'Writes and polishes short poems with you.', style: 'poem' },
  { id: 'greeting-writer', name: 'Greeting writer', description: 'Drafts greetings for birthdays, holidays and other occasions.', style: 'greeting' },
  { id: 'letter-writer', name: 'Letter writer', description: 'Helps with formal letters: applications, complaints, requests.', style: 'formal-letter' },
];

const byId = new Map(ASSISTANTS.map((assistant) => [assistant.id, assistant]));

export function findAssistant(id: string): AssistantEntry | undefined {
  return byId.get(id);
}

import type { GenerationRpc, RpcRequest } from '@homiwork/contracts';

/** What ChatReplyRoute accepts of all turns together; counted here on the NFKC form the scrubber works on. */
export const MAX_CONVERSATION_CHARS = 16_000;

export type ChatReplyRequest = RpcRequest<typeof GenerationRpc.ChatReplyRoute>;
type Turn = ChatReplyRequest['turns'][number];

const SPEAKERS: Readonly<Record<Turn['role'], string>> = { user: 'User', assistant: 'Assistant' };

/**
 * The conversation as the one prompt a `text` contractor takes: a line per turn, the newest
 * last, ending with the assistant's cue. Labels and line breaks add at most 12 characters a
 * turn (`Assistant: ` and `\n`) and 10 for the cue, so 100 turns of 16,000 characters render
 * to at most 17,210 — inside MAX_CONVERSATION_SCRUB_CHARS.
 */
export function renderConversation(turns: readonly Turn[]): string {
  return [...turns.map((turn) => `${SPEAKERS[turn.role]}: ${turn.text}`), `${SPEAKERS.assistant}:`].join('\n');
}

/** The length the scrubber will see of the turns' text: NFKC, which can spell one character out as many. */
export function normalizedLength(turns: readonly Turn[]): number {
  return turns.reduce((sum, turn) => sum + turn.text.normalize('NFKC').length, 0);
}

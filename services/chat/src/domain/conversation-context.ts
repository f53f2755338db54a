/** The longest turn generation's reply route takes (ChatTurn). */
export const MAX_TURN_CHARS = 8_000;

export interface Turn {
  role: 'user' | 'assistant';
  text: string;
}

/**
 * The recent conversation sent with a new message (R5.2): `newestFirst` starts with the
 * message just sent. Turns are taken newest first while they fit in `budgetChars`, so the
 * assistant sees the latest exchange whole rather than a fragment of old ones; a reply
 * longer than a turn may be (replies are up to 100,000 characters) is cut to its start.
 * Returned oldest first, as a conversation reads.
 */
export function conversationContext(newestFirst: readonly Turn[], budgetChars: number): Turn[] {
  const turns: Turn[] = [];
  let used = 0;
  for (const turn of newestFirst) {
    const text = turn.text.length > MAX_TURN_CHARS ? turn.text.slice(0, MAX_TURN_CHARS) : turn.text;
    if (text.length === 0) continue;
    if (used + text.length > budgetChars && turns.length > 0) break;
    turns.push({ role: turn.role, text });
    used += text.length;
  }
  return turns.reverse();
}

/** The longest turn generation's reply route takes (ChatTurn). */
export const MAX_TURN_CHARS = 8_000;

export interface Turn {
  role: 'user' | 'assistant';
  text: string;
}

/**
 * What a text costs of the context budget. Generation refuses a conversation over 16,000
 * characters after NFKC normalisation (one "\uFDFA" becomes 18 characters) and its route
 * over 16,000 before it, so a text costs the larger of the two lengths.
 */
export function contextCost(text: string): number {
  return Math.max(text.length, text.normalize('NFKC').length);
}

/**
 * The first `end` UTF-16 units of `text` (what `.length` and the contracts count), one fewer
 * when the cut would split a surrogate pair: always whole characters (code points).
 */
export function sliceWhole(text: string, end: number): string {
  if (end >= text.length) return text;
  const last = text.charCodeAt(end - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? end - 1 : end);
}

/**
 * The longest start of `text` (whole code points) costing at most `limit`. The cost of a
 * prefix is near enough monotonic for a binary search; the result is checked to fit.
 */
export function cutToCost(text: string, limit: number): string {
  if (contextCost(text) <= limit) return text;
  let fits = 0;
  let tooLong = text.length;
  while (tooLong - fits > 1) {
    const middle = Math.floor((fits + tooLong) / 2);
    if (contextCost(sliceWhole(text, middle)) <= limit) fits = middle;
    else tooLong = middle;
  }
  return sliceWhole(text, fits);
}

/**
 * The recent conversation sent with a new message (R5.2): `newestFirst` starts with the
 * message just sent. Turns are taken newest first while they fit in `budgetChars` (counted
 * by contextCost), so the assistant sees the latest exchange whole rather than a fragment of
 * old ones; a text longer than a turn may be (a stored reply is up to 8,000 characters, an
 * NFKC expansion can be 18 times that) is cut to its start — the new message too, so it is
 * always included. Returned oldest first, as a conversation reads.
 */
export function conversationContext(newestFirst: readonly Turn[], budgetChars: number): Turn[] {
  const turns: Turn[] = [];
  let used = 0;
  for (const turn of newestFirst) {
    let text = sliceWhole(turn.text, MAX_TURN_CHARS);
    if (text.length === 0) continue;
    if (turns.length === 0) text = cutToCost(text, budgetChars);
    const cost = contextCost(text);
    if (text.length === 0 || used + cost > budgetChars) break;
    turns.push({ role: turn.role, text });
    used += cost;
  }
  return turns.reverse();
}


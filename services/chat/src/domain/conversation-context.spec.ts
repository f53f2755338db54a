import { describe, expect, it } from 'vitest';
import { conversationContext, MAX_TURN_CHARS } from './conversation-context.js';

describe('conversation context', () => {
  it('takes newest turns while they fit and returns them oldest first', () => {
    const turns = conversationContext(
      [
        { role: 'user', text: 'c'.repeat(10) },
        { role: 'assistant', text: 'b'.repeat(10) },
        { role: 'user', text: 'a'.repeat(10) },
      ],
      25,
    );
    expect(turns.map((turn) => turn.text[0])).toEqual(['b', 'c']);
    expect(turns.map((turn) => turn.role)).toEqual(['assistant', 'user']);
  });

  it('always includes the new message; cuts a long reply to the length of a turn', () => {
    const turns = conversationContext(
      [
        { role: 'user', text: 'n'.repeat(MAX_TURN_CHARS) },
        { role: 'assistant', text: 'r'.repeat(50_000) },
      ],
      16_000,
    );
    expect(turns).toHaveLength(2);
    expect(turns[0]!.text).toHaveLength(MAX_TURN_CHARS);
    expect(turns.reduce((sum, turn) => sum + turn.text.length, 0)).toBeLessThanOrEqual(16_000);
  });

  it('stops at the first turn that does not fit, never skipping to older ones', () => {
    const turns = conversationContext(
      [
        { role: 'user', text: 'x'.repeat(100) },
        { role: 'assistant', text: 'y'.repeat(1_000) },
        { role: 'user', text: 'z'.repeat(10) },
      ],
      500,
    );
    expect(turns).toEqual([{ role: 'user', text: 'x'.repeat(100) }]);
  });
});

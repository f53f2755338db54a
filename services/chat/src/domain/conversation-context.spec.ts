import { describe, expect, it } from 'vitest';
import { contextCost, conversationContext, MAX_TURN_CHARS, sliceWhole } from './conversation-context.js';

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

  it('counts the NFKC length: 8,000 × "\uFDFA" (144,000 after NFKC) is cut to fit the budget, and is the only turn', () => {
    const expanding = '\uFDFA'.repeat(8_000);
    expect(expanding.normalize('NFKC').length).toBe(144_000);
    const turns = conversationContext(
      [
        { role: 'user', text: expanding },
        { role: 'assistant', text: 'o'.repeat(100) },
      ],
      16_000,
    );
    expect(turns).toHaveLength(1);
    expect(turns[0]!.text.normalize('NFKC').length).toBeLessThanOrEqual(16_000);
    expect(turns[0]!.text).toBe('\uFDFA'.repeat(Math.floor(16_000 / 18)));
  });

  it('an older turn that fits by raw length but not after NFKC is left out', () => {
    const turns = conversationContext(
      [
        { role: 'user', text: 'n'.repeat(7_000) },
        { role: 'assistant', text: '\uFDFA'.repeat(1_000) },
      ],
      16_000,
    );
    expect(turns).toEqual([{ role: 'user', text: 'n'.repeat(7_000) }]);
  });

  it('cuts on whole characters, never through a surrogate pair', () => {
    expect(sliceWhole('ab\u{1F600}c', 3)).toBe('ab');
    expect(sliceWhole('ab\u{1F600}c', 4)).toBe('ab\u{1F600}');
    const turns = conversationContext([{ role: 'user', text: `${'a'.repeat(MAX_TURN_CHARS - 1)}\u{1F600}` }], 16_000);
    expect(turns[0]!.text).toBe('a'.repeat(MAX_TURN_CHARS - 1));
    expect(contextCost('\uFDFA')).toBe(18);
  });
});

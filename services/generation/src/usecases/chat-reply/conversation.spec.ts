import { describe, expect, it } from 'vitest';
import { GenerationRpc } from '@homiwork/contracts';
import { MAX_CONVERSATION_SCRUB_CHARS } from '../../contractor/scrubber.js';
import { MAX_CONVERSATION_CHARS, normalizedLength, renderConversation } from './conversation.js';

describe('renderConversation', () => {
  it('writes a line per turn, oldest first and newest last, and ends with the assistant cue', () => {
    const prompt = renderConversation([
      { role: 'user', text: 'Write me a greeting' },
      { role: 'assistant', text: 'Happy days!' },
      { role: 'user', text: 'Shorter, please' },
    ]);
    expect(prompt).toBe('User: Write me a greeting\nAssistant: Happy days!\nUser: Shorter, please\nAssistant:');
  });

  it('keeps the largest conversation the route accepts inside the scrubber’s conversation bound', () => {
    const turns = Array.from({ length: 100 }, () => ({ role: 'assistant' as const, text: 'x'.repeat(MAX_CONVERSATION_CHARS / 100) }));
    expect(GenerationRpc.ChatReplyRoute.request.safeParse({ userId: crypto.randomUUID(), style: 'greeting', turns }).success).toBe(true);
    expect(renderConversation(turns).length).toBe(17_210);
    expect(renderConversation(turns).length).toBeLessThanOrEqual(MAX_CONVERSATION_SCRUB_CHARS);
  });
});

describe('normalizedLength', () => {
  it('counts the turns as the scrubber sees them: NFKC spells out compatibility characters', () => {
    expect(normalizedLength([{ role: 'user', text: 'abc' }, { role: 'assistant', text: '\u3316' }])).toBe(3 + 6);
  });
});

import { describe, expect, it } from 'vitest';
import { SeededRandom, themeWords } from './seed.js';
import { chooseTextStyle } from './texts.js';

describe('SeededRandom', () => {
  it('is a pure function of kind, style and prompt', () => {
    const draw = (random: SeededRandom) => Array.from({ length: 20 }, () => random.uint32());
    const reference = draw(SeededRandom.forRequest('poem', 'the sea', undefined));
    expect(draw(SeededRandom.forRequest('poem', 'the sea', undefined))).toEqual(reference);
    expect(draw(SeededRandom.forRequest('poem', 'the sea', ''))).toEqual(reference);
    expect(draw(SeededRandom.forRequest('poem', 'the sea!', undefined))).not.toEqual(reference);
    expect(draw(SeededRandom.forRequest('text', 'the sea', undefined))).not.toEqual(reference);
    expect(draw(SeededRandom.forRequest('poem', 'the sea', 'greeting'))).not.toEqual(reference);
    // Framed, so moving text between fields is a different request.
    expect(draw(SeededRandom.forRequest('poem', 'a', 'b c'))).not.toEqual(draw(SeededRandom.forRequest('poem', 'a b', 'c')));
  });

  it('covers its ranges, both ends included', () => {
    const random = new SeededRandom(Buffer.from('range'));
    const seen = new Set<number>();
    for (let index = 0; index < 2000; index++) {
      const value = random.int(4, 12);
      expect(value).toBeGreaterThanOrEqual(4);
      expect(value).toBeLessThanOrEqual(12);
      seen.add(value);
      const unit = random.next();
      expect(unit).toBeGreaterThanOrEqual(0);
      expect(unit).toBeLessThan(1);
    }
    expect(seen.size).toBe(9);
  });
});

describe('themeWords', () => {
  it('keeps the longest content words, in the prompt’s order', () => {
    expect(themeWords('Write me a poem about the old lighthouse, the gulls and a stormy evening')).toEqual(['lighthouse', 'stormy', 'evening']);
  });

  it('skips placeholders, stop words, very short and absurdly long words, and duplicates', () => {
    expect(themeWords(`[email] [phone] ox ox Ox tide Tide TIDE ${'x'.repeat(40)}`)).toEqual(['tide']);
    expect(themeWords('a poem for MOCHI')).toEqual(['mochi']);
    expect(themeWords('')).toEqual([]);
  });

  it('keeps letters of any script and drops what a caller excludes', () => {
    expect(themeWords('Grüße an Zoë — море')).toEqual(['Grüße', 'Zoë', 'море']);
    expect(themeWords('Birthday wishes for Mochi', 3, (word) => word === 'birthday' || word === 'wishes')).toEqual(['Mochi']);
  });
});

describe('chooseTextStyle', () => {
  it('takes a known style as given, else counts keywords', () => {
    expect(chooseTextStyle('marketing', 'a birthday card')).toBe('marketing');
    expect(chooseTextStyle('sonnet', 'a formal complaint letter')).toBe('formal-letter');
    expect(chooseTextStyle(undefined, 'a birthday card')).toBe('greeting');
    expect(chooseTextStyle(undefined, 'copy for the product launch and sale')).toBe('marketing');
    expect(chooseTextStyle(undefined, 'something')).toBe('greeting');
    // Whole words only: "dearest" is not "dear", "shopping" not "shop".
    expect(chooseTextStyle(undefined, 'my dearest shopping buddy')).toBe('greeting');
  });
});

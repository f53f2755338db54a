import { describe, expect, it } from 'vitest';
import { AnonymizationError, MAX_CONVERSATION_SCRUB_CHARS, MAX_SCRUB_CHARS, PromptScrubber, type UserIdentifiers } from './scrubber.js';

const ana: UserIdentifiers = { email: 'Ana.Lopez+test@example.com', username: 'ana_lopez' };
const scrubber = new PromptScrubber();
const scrub = (text: string, identifiers: UserIdentifiers = ana) => scrubber.scrub(text, identifiers);

describe('PromptScrubber: the user’s own identifiers', () => {
  it.each([
    ['as registered', 'Write to Ana.Lopez+test@example.com today'],
    ['lower case', 'Write to ana.lopez+test@example.com today'],
    ['upper case', 'Write to ANA.LOPEZ+TEST@EXAMPLE.COM today'],
    ['without the +tag (the same mailbox)', 'Write to ana.lopez@example.com today'],
    ['in full-width forms', 'Write to ａｎａ.ｌｏｐｅｚ＋ｔｅｓｔ＠ｅｘａｍｐｌｅ.ｃｏｍ today'],
    ['split by a zero-width space', 'Write to ana.lopez+test@exa\u200Bmple.com today'],
  ])('removes the email %s', (_case, prompt) => {
    const result = scrub(prompt);
    expect(result).toBe('Write to today');
  });

  it.each([
    ['plain', 'A poem for ana_lopez about spring'],
    ['upper case', 'A poem for ANA_LOPEZ about spring'],
    ['as a mention', 'A poem for @ana_lopez about spring'],
    ['possessive', "A poem for ana_lopez's about spring"],
    ['inside a longer word', 'A poem for xXana_lopezXx about spring'],
    ['with a dot', 'A poem for ana.lopez about spring'],
    ['with a hyphen', 'A poem for ana-lopez about spring'],
    ['without a separator', 'A poem for analopez about spring'],
    ['as a name with a space', 'A poem for Ana Lopez about spring'],
    ['with accents', 'A poem for Ána Lópéz about spring'],
    ['in full-width letters', 'A poem for ａｎａ＿ｌｏｐｅｚ about spring'],
    ['with Cyrillic look-alike letters', 'A poem for \u0430na_l\u043E\u0440ez about spring'],
    ['split by invisible characters', 'A poem for ana\u200B_lo\u00ADpez about spring'],
    ['with combining accents', 'A poem for a\u0301na_lope\u0301z about spring'],
  ])('removes the username %s', (_case, prompt) => {
    expect(scrub(prompt)).toBe('A poem for about spring');
  });

  it('scrubs identifiers with hyphens and digits instead of failing closed on every prompt', () => {
    const identifiers = { email: 'jean-luc.3f2a-9@example.org', username: 'jean-luc_3f2a-9' };
    expect(scrub('A poem about the sea', identifiers)).toBe('A poem about the sea');
    expect(scrub('Sign it jean-luc.3f2a-9@example.org or jean-luc_3f2a-9, thanks', identifiers)).toBe('Sign it or , thanks');
  });

  it('removes the email’s name part as a whole word, with or without the @', () => {
    const identifiers = { email: 'jo.smith@example.org', username: 'fox_rider' };
    expect(scrub('Thanks from jo.smith and @Jo_Smith!', identifiers)).toBe('Thanks from and !');
    expect(scrub('Thanks from jo.smithson', identifiers)).toBe('Thanks from jo.smithson');
  });

  it('removes a username shorter than 3 characters only as a whole word', () => {
    const identifiers = { email: 'x@example.org', username: 'al' };
    expect(scrub('al and @al wrote about Alice, pals and a palace', identifiers)).toBe('and wrote about Alice, pals and a palace');
  });

  it('removes a 3-character username even inside words (the rule is wide on purpose)', () => {
    expect(scrub('bob said: a bobsled for Bob', { email: 'x@example.org', username: 'bob' })).toBe('said: a for');
  });

  it('keeps the prompt’s other words, line breaks and indentation', () => {
    expect(scrub('Dear team,\n  thanks for the launch!\nBest, ana_lopez')).toBe('Dear team,\n  thanks for the launch!\nBest,');
  });

  it('does not leave a username inside a mask (username "phone")', () => {
    const result = scrub('Call +1 212 555 0123 now', { email: 'x@example.org', username: 'phone' });
    expect(result.toLowerCase()).not.toContain('phone');
    expect(result).not.toMatch(/\d/);
  });
});

describe('PromptScrubber: anyone’s email addresses and phone numbers', () => {
  it.each([
    'bob@other.org',
    'Bob.Builder+work@Sub.Other.Co.UK',
    'müller@bücher.de',
    'someone@localhost',
    'Ｂｏｂ＠ｏｔｈｅｒ.ｏｒｇ',
    '"bob builder"@other.org',
    'bob@[192.0.2.17]',
    'bob@[IPv6:2001:db8::1]',
  ])('masks the email address %s', (email) => {
    expect(scrub(`Send it to ${email}, please`)).toBe('Send it to [email], please');
  });

  it.each([
    '+49 170 1234567',
    '+49 (0) 170 123 45 67',
    '(555) 123-4567',
    '555.123.4567',
    '555-123-4567',
    '0170/1234567',
    '01701234567',
    '+44 20 7946 0958',
    '020 7946 0958',
    '+7 912 345-67-89',
    '06 12 34 56 78',
    '+33 6 12 34 56 78',
    '+1 (212) 555-0123',
    '０１７０ １２３４５６７',
    '\u0660\u0661\u0667\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667',
  ])('masks the phone number %s', (phone) => {
    const result = scrub(`Call me at ${phone} tonight`);
    expect(result).toBe('Call me at [phone] tonight');
  });

  it('keeps dates, times, counts and amounts', () => {
    const prompt = 'A greeting for the party on 2025-06-14 (or 14.06.2025, 06/14/2025) at 10:30 with 3 cakes, 12 guests and 1,000,000 thanks';
    expect(scrub(prompt)).toBe(prompt);
  });

  it('masks a long digit run even if it might be something else (privacy first)', () => {
    expect(scrub('Order 1234 5678 arrived')).toBe('Order [phone] arrived');
  });
});

describe('PromptScrubber: verify step and fail-closed', () => {
  /** A scrubber whose removal step misses everything: only the verify step stands between the prompt and the contractor. */
  class MissingScrubber extends PromptScrubber {
    protected override mask(text: string): string {
      return text;
    }
  }
  const missing = new MissingScrubber();

  it.each([
    ['the user’s email', 'hi ANA.LOPEZ+TEST@example.com', /email address/],
    ['the username', 'hi Ana_Lopez', /username/],
    ['a look-alike username', 'hi \u0430na_lopez', /username/],
    ['another email', 'hi bob@other.org', /email address/],
    ['a phone number', 'hi (555) 123-4567', /phone number/],
    ['an international phone number', 'hi +49 30 1234', /phone number/],
  ])('throws when %s survives removal', (_case, prompt, reason) => {
    expect(() => missing.scrub(prompt, ana)).toThrow(AnonymizationError);
    expect(() => missing.scrub(prompt, ana)).toThrow(reason);
  });

  it('passes a clean prompt through the same verify step', () => {
    expect(missing.scrub('A poem about spring on 2025-03-21', ana)).toBe('A poem about spring on 2025-03-21');
  });

  it('names the failed check and none of the prompt’s text', () => {
    let message = '';
    try {
      missing.scrub('hi ana_lopez, call 0170/1234567', ana);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/survived scrubbing/);
    expect(message).not.toMatch(/ana|lopez|0170|1234567/i);
  });

  it('assertAnonymous accepts what scrub produced for many spellings at once', () => {
    const prompt = 'For ANA_LOPEZ (ana.lopez+test@EXAMPLE.com), call +49 170 1234567 or write bob@x.org; Ａｎａ Ｌｏｐｅｚ says hi';
    const result = scrub(prompt);
    expect(() => scrubber.assertAnonymous(result, ana)).not.toThrow();
    expect(result).toBe('For (), call [phone] or write [email]; says hi');
  });
});

describe('PromptScrubber: identifiers and numbers split by other separators (security review)', () => {
  it.each(['ana__lopez', 'ana--lopez', 'ana/lopez', 'ana·lopez', 'ana - lopez', 'ANA._.LOPEZ'])('removes the username joined as %s', (spelling) => {
    expect(scrub(`my handle is ${spelling} today`)).toBe('my handle is today');
  });

  it('removes the email’s name part split where its letters meet its digits', () => {
    const identifiers = { email: 'jdoe1987@mailbox.org', username: 'kq' };
    expect(scrub('my id is jdoe1987, call me jdoe 1987 or JDOE-1987', identifiers)).toBe('my id is , call me or');
    // Pieces shorter than 2 are not split off, or `a1` would match every "a 1".
    expect(scrub('Person 1a2b3c4d and person_1a2b3c4d', { email: 'x@example.org', username: 'person_1a2b3c4d' })).toBe('and');
  });

  it.each(['555_123_4567', '555,123,4567', '555·123·4567', '555/123/4567', '555\n123\n4567', '555+123+4567', '555 _ 123 _ 4567'])('masks the phone number %j', (phone) => {
    expect(scrub(`Call me at ${phone} tonight`)).toBe('Call me at [phone] tonight');
  });

  it('shelters only real dates in 1900–2099: a phone number written like a date is masked', () => {
    expect(scrub('my number is 0170-12-12')).toBe('my number is [phone]');
    expect(scrub('not a day: 31.02.2025 or 1899-01-01')).toBe('not a day: [phone] or [phone]');
    expect(scrub('born 29.02.2024')).toBe('born 29.02.2024');
  });

  it('counts a date’s digits when other digits are joined to it, but keeps a date with its time', () => {
    expect(scrub('call 030 12.12.2025')).toBe('call [phone]');
    expect(scrub('Party on 14.06.2025 10:30, 2025-06-14, 10:30 and 1,250 balloons')).toBe('Party on 14.06.2025 10:30, 2025-06-14, 10:30 and 1,250 balloons');
  });

  it('fails closed in the verify step when such a number survives removal', () => {
    class MissingScrubber extends PromptScrubber {
      protected override mask(text: string): string {
        return text;
      }
    }
    for (const prompt of ['hi 555_123_4567', 'hi 555·123·4567', 'hi 0170-12-12', 'hi 030 12.12.2025']) expect(() => new MissingScrubber().scrub(prompt, ana)).toThrow(/phone number/);
  });
});

describe('PromptScrubber: bounded work (security review)', () => {
  it('refuses a text longer than the prompt limit once NFKC has expanded it', () => {
    // U+3316 (㌖) is six letters in NFKC, U+FDFA eighteen: 4,000 characters become 24,000 and 72,000.
    for (const prompt of ['\u3316'.repeat(4_000), '\uFDFA'.repeat(4_000), 'a'.repeat(8_001)]) {
      expect(() => scrub(prompt)).toThrow(AnonymizationError);
      expect(() => scrub(prompt)).toThrow(/too long/);
    }
    expect(scrub('a'.repeat(MAX_SCRUB_CHARS))).toBe('a'.repeat(MAX_SCRUB_CHARS));
  });

  // A regression guard, not a benchmark: before the fixes these took 0.7–2 s each.
  it.each([
    ['U+3316 x4000, expanding to 24,000 characters', '\u3316'.repeat(4_000), ana],
    ['U+3316 x3999 then @ (the unanchored address pattern)', `${'\u3316'.repeat(3_999)}@`, ana],
    ['a 4,000-character run with an @ at its end', `${'x'.repeat(3_999)}@`, ana],
    ['U+2177 x4000, username vii (one word matched 4,000 times)', '\u2177'.repeat(4_000), { email: 'z@example.com', username: 'vii' }],
    ['viii x1000, username vii', 'viii'.repeat(1_000), { email: 'z@example.com', username: 'vii' }],
    ['MHz x1333, username mhz', 'MHz'.repeat(1_333), { email: 'z@example.com', username: 'mhz' }],
    ['a.m. x1000, username a.m', 'a.m.'.repeat(1_000), { email: 'z@example.com', username: 'a.m' }],
    ['digits and separators', '+1'.repeat(2_000), ana],
    ['quotes', '"a'.repeat(2_000), ana],
  ])('scrubs or refuses a worst-case 4,000-character prompt (%s) in well under a second (was up to 2 s before the fix)', (_case, prompt, identifiers) => {
    const started = performance.now();
    try {
      scrub(prompt, identifiers);
    } catch (error) {
      expect(error).toBeInstanceOf(AnonymizationError);
    }
    // A regression guard, not a benchmark (bench/ measures): the quadratic patterns this replaced took 1.4–2 s here; linear takes ≤ 20 ms; the bound leaves room for a loaded CI machine.
    expect(performance.now() - started).toBeLessThan(750);
  });
});

describe('PromptScrubber: the conversation bound of chat replies', () => {
  const conversation = (text: string, identifiers: UserIdentifiers = ana) => scrubber.scrub(text, identifiers, MAX_CONVERSATION_SCRUB_CHARS);

  it('takes a conversation up to its bound and refuses one longer once normalised; the prompt bound stays 4,000', () => {
    expect(conversation('a'.repeat(MAX_CONVERSATION_SCRUB_CHARS))).toHaveLength(MAX_CONVERSATION_SCRUB_CHARS);
    for (const text of ['a'.repeat(MAX_CONVERSATION_SCRUB_CHARS + 1), '\u3316'.repeat(3_000), 'a'.repeat(2 * MAX_CONVERSATION_SCRUB_CHARS + 1)]) {
      expect(() => conversation(text)).toThrow(/too long/);
    }
    expect(() => scrub('a'.repeat(MAX_SCRUB_CHARS + 1))).toThrow(/too long/);
  });

  it('scrubs a long conversation as it scrubs a prompt', () => {
    const turn = 'User: hi, I am ana_lopez (Ana.Lopez+test@example.com), call +49 170 1234567\nAssistant: hello!\n';
    const result = conversation(turn.repeat(150));
    expect(result.toLowerCase()).not.toMatch(/ana|lopez|1234567/);
    expect(result).toContain('[phone]');
  });

  // Measured on the dev machine (2 shared cores), median of 5: the digit-heavy cases are the
  // slowest and grow linearly — `1 ` repeated: 19 ms at 4,000, 36 ms at 8,000, 70 ms at
  // 16,000; `+1` 19 / 31 / 64 ms; every other case here under 10 ms at 16,000. The bound is
  // far above the linear times, far below what a quadratic pattern takes at this length.
  it.each([
    ['U+3316 x2916, expanding to 17,496 characters', '\u3316'.repeat(2_916), ana],
    ['a 16,000-character run with an @ at its end', `${'x'.repeat(15_999)}@`, ana],
    ['U+2177 x4375, username vii', '\u2177'.repeat(4_375), { email: 'z@example.com', username: 'vii' }],
    ['viii x4000, username vii', 'viii'.repeat(4_000), { email: 'z@example.com', username: 'vii' }],
    ['MHz x5333, username mhz', 'MHz'.repeat(5_333), { email: 'z@example.com', username: 'mhz' }],
    ['a.m. x4000, username a.m', 'a.m.'.repeat(4_000), { email: 'z@example.com', username: 'a.m' }],
    ['digits and plus signs', '+1'.repeat(8_000), ana],
    ['digits and spaces', '1 '.repeat(8_000), ana],
    ['digits in parentheses', '(1)'.repeat(5_333), ana],
    ['quotes', '"a'.repeat(8_000), ana],
    ['dates', '14.06.2025 '.repeat(1_454), ana],
  ])('scrubs or refuses a worst-case 16,000-character conversation (%s) in well under three seconds (linear)', (_case, text, identifiers) => {
    const started = performance.now();
    try {
      conversation(text, identifiers);
    } catch (error) {
      expect(error).toBeInstanceOf(AnonymizationError);
    }
    // A regression guard, not a benchmark: linear scrubbing of 16,000 characters takes ≤ 70 ms here, a quadratic pattern tens of seconds; the bound leaves room for a loaded CI machine.
    expect(performance.now() - started).toBeLessThan(2_500);
  });
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ImageBlocklistCheck } from './image-blocklist-check.js';
import { moderationConfigShape, moderatorFromConfig, parseBlocklist, parseTextRules } from './moderation-config.js';
import { Moderator, type ModerationCheck, type ModerationVerdict } from './moderation.js';
import { TextRuleCheck } from './text-rule-check.js';

const LISTED = 0x0f0f_0f0f_0f0f_0f0fn;

/** A real (if trivial) classifier written against the interface, as a vendor's would be. */
class RecordingCheck implements ModerationCheck {
  readonly seen: string[] = [];
  constructor(
    readonly name: string,
    private readonly verdict: ModerationVerdict,
  ) {}
  checkText(text: string): Promise<ModerationVerdict> {
    this.seen.push(text);
    return Promise.resolve(this.verdict);
  }
}

describe('ImageBlocklistCheck', () => {
  const check = new ImageBlocklistCheck([0xffff_0000_ffff_0000n, LISTED], 6);

  it('refuses a hash within the distance and names the list position', async () => {
    expect(await check.checkImage({ dHash: LISTED })).toEqual({ allowed: false, rule: 'image-blocklist:1' });
    expect(await check.checkImage({ dHash: LISTED ^ 0b111111n })).toEqual({ allowed: false, rule: 'image-blocklist:1' });
  });

  it('lets a hash one bit beyond the distance through', async () => {
    expect(await check.checkImage({ dHash: LISTED ^ 0b1111111n })).toEqual({ allowed: true });
  });

  it('with distance 0 matches exact hashes only', async () => {
    const exact = new ImageBlocklistCheck([LISTED], 0);
    expect((await exact.checkImage({ dHash: LISTED })).allowed).toBe(false);
    expect((await exact.checkImage({ dHash: LISTED ^ 1n })).allowed).toBe(true);
  });

  it('refuses a nonsensical distance', () => {
    expect(() => new ImageBlocklistCheck([], -1)).toThrow(/maxDistance/);
    expect(() => new ImageBlocklistCheck([], 65)).toThrow(/maxDistance/);
  });
});

describe('TextRuleCheck', () => {
  const check = new TextRuleCheck([
    { id: 'violence', pattern: /\bkill (them|everyone)\b/ },
    { id: 'csam-terms', pattern: /forbidden\s*term/ },
    { id: 'arson', pattern: /set fire/ },
  ]);

  it('refuses matching text, case-insensitively, naming the rule', async () => {
    expect(await check.checkText('We should KILL EVERYONE')).toEqual({ allowed: false, rule: 'text-rule:violence' });
    expect(await check.checkText('a happy birthday poem')).toEqual({ allowed: true });
  });

  it('sees through full-width letters, ligatures and zero-width characters', async () => {
    expect((await check.checkText('ｆｏｒｂｉｄｄｅｎ ｔｅｒｍ')).allowed).toBe(false);
    expect((await check.checkText('for\u200Bbid\u00ADden\u2060 term')).allowed).toBe(false);
    expect((await check.checkText('set \uFB01re to it')).allowed).toBe(false);
  });

  it('is not fooled into skipping by a global regex’s lastIndex', async () => {
    const global = new TextRuleCheck([{ id: 'word', pattern: /word/g }]);
    expect((await global.checkText('word')).allowed).toBe(false);
    expect((await global.checkText('word')).allowed).toBe(false);
  });

  it('refuses rule ids that are not short codes', () => {
    expect(() => new TextRuleCheck([{ id: 'Has Spaces', pattern: /x/ }])).toThrow(/text rule id/);
  });
});

describe('Moderator', () => {
  it('lets the first refusal win and does not ask later checks', async () => {
    const first = new RecordingCheck('first', { allowed: false, rule: 'vendor:adult' });
    const second = new RecordingCheck('second', { allowed: false, rule: 'vendor:other' });
    const moderator = new Moderator([new RecordingCheck('ok', { allowed: true }), first, second]);
    expect(await moderator.text('hello')).toEqual({ allowed: false, rule: 'vendor:adult' });
    expect(second.seen).toEqual([]);
  });

  it('allows when no check objects, and skips checks that do not handle the medium', async () => {
    const moderator = new Moderator([new TextRuleCheck([{ id: 'x', pattern: /x/ }]), new ImageBlocklistCheck([LISTED])]);
    expect(await moderator.image(0n)).toEqual({ allowed: true });
    expect(await moderator.image(LISTED)).toEqual({ allowed: false, rule: 'image-blocklist:0' });
    expect(await moderator.text('y')).toEqual({ allowed: true });
    expect(await moderator.text('x')).toEqual({ allowed: false, rule: 'text-rule:x' });
    expect(await new Moderator([]).text('anything')).toEqual({ allowed: true });
  });

  it('fails closed when a plugged-in check answers with free text instead of a rule code', async () => {
    const chatty = new RecordingCheck('vendor', { allowed: false, rule: 'The user wrote: "something private"' });
    await expect(new Moderator([chatty]).text('x')).rejects.toThrow(/not a short code/);
  });
});

describe('parseBlocklist', () => {
  it('reads hashes separated by commas and/or whitespace, in any case', () => {
    expect(parseBlocklist(' 0123456789abcdef,FEDCBA9876543210\n\t0000000000000001 ,, ')).toEqual([0x0123456789abcdefn, 0xfedcba9876543210n, 1n]);
    expect(parseBlocklist('')).toEqual([]);
  });

  it('names the position of an invalid entry', () => {
    expect(() => parseBlocklist('0123456789abcdef 123')).toThrow(/entry 2 /);
    expect(() => parseBlocklist('0123456789abcdeg')).toThrow(/entry 1 /);
    expect(() => parseBlocklist('0123456789abcdef0')).toThrow(/entry 1 /);
  });
});

describe('parseTextRules', () => {
  it('reads id=regex pairs; the pattern may contain "=" and an escaped ";"', () => {
    const rules = parseTextRules(' violence = kill\\s+(them|all) ; eq=a=b;semi=x\\;y; ');
    expect(rules.map((rule) => [rule.id, rule.pattern.source, rule.pattern.flags])).toEqual([
      ['violence', 'kill\\s+(them|all)', 'iu'],
      ['eq', 'a=b', 'iu'],
      ['semi', 'x;y', 'iu'],
    ]);
    expect(parseTextRules('')).toEqual([]);
  });

  it('produces rules a TextRuleCheck applies', async () => {
    const check = new TextRuleCheck(parseTextRules('semi=x\\;y;eq=a=b'));
    expect(await check.checkText('X;Y')).toEqual({ allowed: false, rule: 'text-rule:semi' });
    expect(await check.checkText('A=B')).toEqual({ allowed: false, rule: 'text-rule:eq' });
  });

  it('names the rule whose regex is invalid', () => {
    expect(() => parseTextRules('good=ok;broken=(unclosed')).toThrow(/"broken".*invalid regular expression/);
  });

  it('refuses entries without "=", bad ids, empty patterns and duplicates', () => {
    expect(() => parseTextRules('nothing-here')).toThrow(/rule 1 has no "="/);
    expect(() => parseTextRules('ok=a;Bad Id=b')).toThrow(/rule 2 has an invalid id/);
    expect(() => parseTextRules('empty=')).toThrow(/"empty" has an empty pattern/);
    expect(() => parseTextRules('a=x;a=y')).toThrow(/"a" is defined twice/);
  });
});

describe('moderationConfigShape', () => {
  const schema = z.object(moderationConfigShape);

  it('defaults to no rules and a distance of 6, and builds a moderator from the settings', async () => {
    const config = schema.parse({});
    expect(config).toEqual({ MODERATION_IMAGE_BLOCKLIST: '', MODERATION_MAX_HAMMING: 6, MODERATION_TEXT_RULES: '' });
    const moderator = moderatorFromConfig(schema.parse({ MODERATION_TEXT_RULES: 'arson=set fire', MODERATION_IMAGE_BLOCKLIST: '0f0f0f0f0f0f0f0f', MODERATION_MAX_HAMMING: '0' }));
    expect(await moderator.text('please SET FIRE')).toEqual({ allowed: false, rule: 'text-rule:arson' });
    expect(await moderator.image(LISTED)).toEqual({ allowed: false, rule: 'image-blocklist:0' });
    expect(await moderator.image(LISTED ^ 1n)).toEqual({ allowed: true });
  });

  it('refuses a malformed rule at boot, naming the setting and the rule but not the pattern', () => {
    const result = schema.safeParse({ MODERATION_TEXT_RULES: 'good=ok;broken=(secret-pattern' });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path).toEqual(['MODERATION_TEXT_RULES']);
    expect(result.error!.issues[0]!.message).toMatch(/"broken".*invalid regular expression/);
    expect(result.error!.issues[0]!.message).not.toContain('secret-pattern');
    expect(schema.safeParse({ MODERATION_IMAGE_BLOCKLIST: 'xyz' }).success).toBe(false);
    expect(schema.safeParse({ MODERATION_MAX_HAMMING: '17' }).success).toBe(false);
  });
});

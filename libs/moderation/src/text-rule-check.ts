import type { ModerationCheck, ModerationVerdict } from './moderation.js';

export interface TextRule {
  /** Short code: lowercase letters, digits, `_`, `.`, `-`; it becomes `text-rule:<id>`. */
  id: string;
  pattern: RegExp;
}

export const TEXT_RULE_ID = /^[a-z0-9_.-]{1,54}$/;

// Invisible characters that split a word for a regex but not for a reader.
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u2060-\u2064\uFEFF]/g;

/**
 * Refuses text that matches any rule. Matching is case-insensitive and runs on an NFKC,
 * lower-cased copy without invisible characters, so full-width letters, ligatures and
 * zero-width spaces do not slip past a rule.
 */
export class TextRuleCheck implements ModerationCheck {
  readonly name = 'text-rules';
  private readonly rules: readonly TextRule[];

  constructor(rules: readonly TextRule[]) {
    this.rules = rules.map((rule) => {
      if (!TEXT_RULE_ID.test(rule.id)) throw new Error(`text rule id "${rule.id}" must match ${TEXT_RULE_ID.source}`);
      return { id: rule.id, pattern: caseInsensitive(rule.pattern) };
    });
  }

  checkText(text: string): Promise<ModerationVerdict> {
    const normalised = normaliseForMatching(text);
    const match = this.rules.find((rule) => rule.pattern.test(normalised));
    return Promise.resolve(match ? { allowed: false, rule: `text-rule:${match.id}` } : { allowed: true });
  }
}

export function normaliseForMatching(text: string): string {
  return text.normalize('NFKC').replace(INVISIBLE, '').toLowerCase();
}

/** Adds `i`; drops `g`/`y`, whose `lastIndex` would make `test()` depend on the previous call. */
function caseInsensitive(pattern: RegExp): RegExp {
  const flags = new Set(pattern.flags.replace(/[gy]/g, ''));
  flags.add('i');
  return new RegExp(pattern.source, [...flags].join(''));
}

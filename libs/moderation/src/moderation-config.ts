import { z } from 'zod';
import { ImageBlocklistCheck } from './image-blocklist-check.js';
import { Moderator } from './moderation.js';
import { TEXT_RULE_ID, TextRuleCheck, type TextRule } from './text-rule-check.js';

const HASH = /^[0-9a-f]{16}$/i;

/** `"0f1e…, a3b4…"`: 16-hex-digit dHashes separated by commas and/or whitespace. */
export function parseBlocklist(value: string): bigint[] {
  const entries = value.split(/[\s,]+/).filter(Boolean);
  return entries.map((entry, index) => {
    if (!HASH.test(entry)) throw new Error(`image block-list entry ${index + 1} is not a 16-hex-digit hash`);
    return BigInt(`0x${entry}`);
  });
}

/**
 * `id=regex;id2=regex2`. The regex is everything after the first `=`, surrounding
 * whitespace ignored (write `\s` for a space at either end); a `;` inside a regex is
 * written `\;`. Patterns are compiled case-insensitive and Unicode-aware.
 */
export function parseTextRules(value: string): TextRule[] {
  const rules: TextRule[] = [];
  const seen = new Set<string>();
  const entries = value.split(/(?<!\\);/).map((entry) => entry.trim()).filter(Boolean);
  entries.forEach((entry, index) => {
    const separator = entry.indexOf('=');
    if (separator === -1) throw new Error(`text rule ${index + 1} has no "=" between id and pattern`);
    const id = entry.slice(0, separator).trim();
    const source = entry.slice(separator + 1).trim().replaceAll('\\;', ';');
    if (!TEXT_RULE_ID.test(id)) throw new Error(`text rule ${index + 1} has an invalid id (expected ${TEXT_RULE_ID.source})`);
    if (seen.has(id)) throw new Error(`text rule "${id}" is defined twice`);
    if (source.length === 0) throw new Error(`text rule "${id}" has an empty pattern`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(source, 'iu');
    } catch {
      throw new Error(`text rule "${id}" has an invalid regular expression`);
    }
    seen.add(id);
    rules.push({ id, pattern });
  });
  return rules;
}

/** A setting whose parser refuses it fails the config check with the parser's message (which never repeats a pattern). */
function parsedBy(parse: (value: string) => unknown) {
  return z
    .string()
    .default('')
    .superRefine((value, context) => {
      try {
        parse(value);
      } catch (error) {
        context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : 'is invalid' });
      }
    });
}

/**
 * The moderation settings, one spelling for every service that moderates (media's uploads,
 * generation's prompts and results), so one setting serves all of them. Spread into a
 * service's config schema; a malformed rule stops the service at boot with one line.
 */
export const moderationConfigShape = {
  /** 64-bit dHashes (16 hex digits) of images that must never be accepted. */
  MODERATION_IMAGE_BLOCKLIST: parsedBy(parseBlocklist),
  MODERATION_MAX_HAMMING: z.coerce.number().int().min(0).max(16).default(6),
  /** `id=regex;id2=regex2`, matched case-insensitively against text and prompts. */
  MODERATION_TEXT_RULES: parsedBy(parseTextRules),
};

export interface ModerationConfig {
  MODERATION_IMAGE_BLOCKLIST: string;
  MODERATION_MAX_HAMMING: number;
  MODERATION_TEXT_RULES: string;
}

/** The block-list and text rules of a parsed configuration, in that order. */
export function moderatorFromConfig(config: ModerationConfig): Moderator {
  return new Moderator([
    new ImageBlocklistCheck(parseBlocklist(config.MODERATION_IMAGE_BLOCKLIST), config.MODERATION_MAX_HAMMING),
    new TextRuleCheck(parseTextRules(config.MODERATION_TEXT_RULES)),
  ]);
}

import { TEXT_RULE_ID, type TextRule } from './text-rule-check.js';

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

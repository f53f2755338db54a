import { findPhoneNumbersInText } from 'libphonenumber-js';

/**
 * Takes the person out of a prompt before it leaves for an AI contractor (policy §7.2:
 * "email, username, account identifier, and any other information that could identify the
 * individual are not included"). Three steps:
 *
 * 1. Normalise: NFKC (full-width `ａｎａ`, `＠`, ligatures and other compatibility forms become
 *    their plain letters) and drop invisible characters (format and private-use code points,
 *    such as zero-width spaces and soft hyphens) that could split an identifier unseen.
 * 2. Remove the user's own identifiers and mask what looks like anyone's contact details:
 *    - the user's email (with and without a `+tag`) is removed;
 *    - the username is removed with the whole word around it (`@ana_lopez`, `ana_lopez's`,
 *      `xxana_lopezxx`); its `.`/`_`/`-` separators match any of them, a space or nothing
 *      (`Ana Lopez`, `ana.lopez`, `analopez`) unless its parts are too short for that; a username
 *      shorter than 3 characters is removed only as a whole word, or it would eat half the
 *      language;
 *    - the local part of the user's email (`ana.lopez` of `ana.lopez+x@…`, 3+ characters) is
 *      removed as a whole word: it is usually a name;
 *    - any email address becomes `[email]`, any phone number `[phone]`.
 *    Identifiers are matched on a folded copy of the text: lower case, accents dropped, and
 *    Cyrillic/Greek letters that look Latin mapped to them (`аna_lорez` with Cyrillic а, о, р),
 *    so look-alike spellings are caught too; what is removed is cut from the real text.
 * 3. Verify the result independently of how it was produced: if it still contains the email,
 *    the username, the local part, an email-like `x@y` or a phone-like number (by the same
 *    digit rule and, separately, by libphonenumber), throw. The caller sends nothing then.
 *
 * Phone numbers: a run of digits joined by at most 3 separators each (space, `-`, `.`, `/`,
 * parentheses, dashes), optionally led by `+` or `(`, holding 7 or more digits, in any script
 * (`\p{Nd}`). That is deliberately wider than "a valid number": `(555) 123-4567`,
 * `0170/1234567`, `555.123.4567` and `+49 170 1234567` are caught without knowing the
 * country, and so are long order or card numbers, which are no loss to a generation prompt.
 * One exception keeps birthday greetings readable: calendar dates written with a 4-digit
 * year (`2025-06-14`, `14.06.2025`, `06/14/2025`) stay. libphonenumber-js
 * (`findPhoneNumbersInText`, no default country, so international `+` forms) masks and
 * verifies alongside the rule; with a default country it also reads dates as numbers, and
 * the country of a prompt is unknown, so the digit rule is the primary one.
 *
 * Not caught (documented limits): spelled-out digits ("five five five…"), addresses written
 * as "ana dot lopez at example dot com", another person's name or username (only the user's
 * own identifiers are known here).
 */
export interface UserIdentifiers {
  readonly email: string;
  readonly username: string;
}

/** Scrubbing could not guarantee an anonymous prompt. The message names the check, never the text. */
export class AnonymizationError extends Error {
  override readonly name = 'AnonymizationError';
}

export const EMAIL_MASK = '[email]';
export const PHONE_MASK = '[phone]';

const MIN_DIGITS_OF_A_PHONE_NUMBER = 7;
/** Usernames shorter than this are removed only as whole words. */
const MIN_INFIX_LENGTH = 3;

// Local part: letters, digits, marks and the RFC 5322 atom specials; domain: labels of
// letters, digits, marks and hyphens. A domain without a dot (`ana@localhost`) counts too.
// The look-behind starts a match only where a run of local-part characters starts, so a
// long run without an `@` is scanned once, not once per position.
const EMAIL = /(?<![\p{L}\p{N}\p{M}._%+'!#$&*=?^`{|}~-])[\p{L}\p{N}\p{M}._%+'!#$&*=?^`{|}~-]+@[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)*/gu;
/**
 * The forms EMAIL leaves: a quoted local part (`"ana lopez"@example.com`) or an address
 * literal as the domain (`ana@[192.0.2.1]`, which would also send an IP address). Whatever
 * still has something on both sides of an `@` after this fails the verify step.
 */
const UNUSUAL_EMAIL = /(?:"[^"\r\n]{1,64}"|[^\s@]+)@(?:\[[^\]\r\n]{1,64}\]|[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)*)/gu;
/** What the verify step calls email-like: anything but space directly on both sides of an `@`. */
const EMAIL_LIKE = /[^\s@]@[^\s@]/u;
const PHONE_CANDIDATE = /[+(]?\p{Nd}(?:[ \t\-./()\u2010-\u2015\u2212]{0,3}\p{Nd})*/gu;
const DIGIT = /\p{Nd}/gu;
// ISO (2025-06-14) and day/month-first or month/day-first (14.06.2025, 06/14/2025) dates
// with a 4-digit year and one separator used throughout, not inside a longer digit run.
const DATE = /(?<![\p{Nd}+])(?:(\d{4})([-./])(\d{1,2})\2(\d{1,2})|(\d{1,2})([-./])(\d{1,2})\6(\d{4}))(?![\p{Nd}])/gu;
// Private-use characters carry nothing readable, and the scrubber uses two of them to shelter dates.
const INVISIBLE = /[\p{Cf}\p{Co}]/gu;
const SHELTER_OPEN = '\uE000';
const SHELTER_CLOSE = '\uE001';
const SHELTERED = /\uE000([a-z]+)\uE001/g;
const WORD_CHAR = /[\p{L}\p{N}\p{M}_]/u;

/** Lower-case Cyrillic and Greek letters that are drawn like Latin ones (subset of Unicode's confusables). */
const LOOK_ALIKES: Readonly<Record<string, string>> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  і: 'i', ї: 'i', ј: 'j', ѕ: 's', ԁ: 'd', һ: 'h', ӏ: 'l', ԛ: 'q', ԝ: 'w', ү: 'y', ɡ: 'g', ı: 'i',
  α: 'a', β: 'b', ε: 'e', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w',
};

export class PromptScrubber {
  /** The anonymized prompt, or an AnonymizationError if that cannot be guaranteed. */
  scrub(text: string, identifiers: UserIdentifiers): string {
    const normalized = normalize(text);
    const patterns = identifierPatterns(identifiers);
    const scrubbed = tidy(this.mask(normalized, patterns));
    this.assertAnonymous(scrubbed, identifiers);
    return scrubbed;
  }

  /**
   * The removal and masking (step 2). Identifiers are removed again after masking, so that
   * a username such as `phone` cannot survive inside a `[phone]` mask.
   */
  protected mask(text: string, patterns: IdentifierPatterns): string {
    let result = removeIdentifiers(text, patterns);
    result = result.replace(EMAIL, EMAIL_MASK).replace(UNUSUAL_EMAIL, EMAIL_MASK);
    result = maskPhoneNumbers(result);
    return removeIdentifiers(result, patterns);
  }

  /** The verify step (3): throws unless `text` is free of the identifiers and of contact-like data. */
  assertAnonymous(text: string, identifiers: UserIdentifiers): void {
    const patterns = identifierPatterns(identifiers);
    const normalized = normalize(text);
    const folded = fold(normalized).text;
    if (patterns.emails.some((email) => folded.includes(email))) throw new AnonymizationError("the user's email address survived scrubbing");
    if (patterns.username && folded.search(patterns.username) !== -1) throw new AnonymizationError("the user's username survived scrubbing");
    if (patterns.localPart && folded.search(patterns.localPart) !== -1) throw new AnonymizationError("the user's email name survived scrubbing");
    if (EMAIL_LIKE.test(normalized)) throw new AnonymizationError('an email address survived scrubbing');
    const undated = shelterDates(normalized).text;
    if (phoneCandidates(undated).some(isPhoneLike)) throw new AnonymizationError('a phone number survived scrubbing');
    if (findPhoneNumbersInText(undated).length > 0) throw new AnonymizationError('a phone number survived scrubbing');
  }
}

function normalize(text: string): string {
  return text.normalize('NFKC').replace(INVISIBLE, '');
}

/** Collapses the gaps that removals leave; keeps line breaks and indentation (poems and letters have them). */
function tidy(text: string): string {
  return text
    .replace(/(?<=\S)[ \t]{2,}/g, ' ')
    .replace(/[ \t]+$/gm, '')
    .trim();
}

// ---------------------------------------------------------------------------------------
// The user's own identifiers, matched on a folded copy of the text.

interface IdentifierPatterns {
  /** Folded forms of the email: as given and without a `+tag`. */
  readonly emails: readonly string[];
  /** The username (global, on folded text); `infix` says whether it is removed with its whole word. */
  readonly username?: RegExp;
  readonly infix: boolean;
  /** The email's local part without its tag, whole words only. */
  readonly localPart?: RegExp;
}

function identifierPatterns(identifiers: UserIdentifiers): IdentifierPatterns {
  const email = fold(normalize(identifiers.email)).text.trim();
  const username = fold(normalize(identifiers.username)).text.trim();
  const emails = new Set<string>();
  let localPart: RegExp | undefined;
  const at = email.lastIndexOf('@');
  if (at > 0) {
    emails.add(email);
    const local = email.slice(0, at);
    const untagged = local.split('+')[0] ?? local;
    emails.add(`${untagged}${email.slice(at)}`);
    if (untagged.length >= MIN_INFIX_LENGTH) localPart = wholeWord(flexibleSeparators(untagged));
  } else if (email.length > 0) {
    emails.add(email);
  }
  const infix = username.length >= MIN_INFIX_LENGTH;
  const usernamePattern = username.length === 0 ? undefined : infix ? new RegExp(flexibleSeparators(username), 'gu') : wholeWord(escapeRegExp(username));
  return { emails: [...emails].filter((value) => value.length > 0), ...(usernamePattern ? { username: usernamePattern } : {}), infix, ...(localPart ? { localPart } : {}) };
}

/**
 * `ana_lopez` → `ana[._\-\s]?lopez`, so `Ana Lopez`, `ana.lopez` and `analopez` match too, when
 * the parts are 2+ characters and 5+ together; `a_b` stays literal, or it would match
 * "a b…" in every other sentence.
 */
function flexibleSeparators(identifier: string): string {
  const parts = identifier.split(/[._-]+/).filter(Boolean);
  const flexible = parts.length > 1 && parts.every((part) => part.length >= 2) && parts.join('').length >= 5;
  return flexible ? parts.map(escapeRegExp).join('[._\\-\\s]?') : escapeRegExp(identifier);
}

function wholeWord(source: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}\\p{M}_])${source}(?![\\p{L}\\p{N}\\p{M}_])`, 'gu');
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function removeIdentifiers(text: string, patterns: IdentifierPatterns): string {
  const folded = fold(text);
  const ranges: Array<[number, number]> = [];
  for (const email of patterns.emails) {
    for (let index = folded.text.indexOf(email); index !== -1; index = folded.text.indexOf(email, index + 1)) {
      ranges.push(folded.original(index, index + email.length));
    }
  }
  for (const match of patterns.username ? folded.text.matchAll(patterns.username) : []) {
    const range = folded.original(match.index, match.index + match[0].length);
    ranges.push(patterns.infix ? wholeToken(text, range) : withMention(text, range));
  }
  for (const match of patterns.localPart ? folded.text.matchAll(patterns.localPart) : []) {
    ranges.push(withMention(text, folded.original(match.index, match.index + match[0].length)));
  }
  return cut(text, ranges);
}

/** Widens a match to the word it sits in: `@ana_lopez`, `ana_lopez's`, `xxana_lopezxx`, `ana_lopez@mail.example`. */
function wholeToken(text: string, [start, end]: [number, number]): [number, number] {
  let from = start;
  while (from > 0 && (isWordChar(text, from - 1) || isJoiner(text[from - 1]))) from--;
  let to = end;
  for (;;) {
    if (to < text.length && (isWordChar(text, to) || text[to] === "'" || text[to] === '’' || text[to] === '-')) to++;
    else if (to + 1 < text.length && isJoiner(text[to]) && isWordChar(text, to + 1)) to++;
    else break;
  }
  return [from, to];
}

/** A whole-word match also takes a leading `@` (a mention). */
function withMention(text: string, [start, end]: [number, number]): [number, number] {
  return [start > 0 && text[start - 1] === '@' ? start - 1 : start, end];
}

function isJoiner(char: string | undefined): boolean {
  return char === '@' || char === '.' || char === '+' || char === '#';
}

function isWordChar(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  // Either half of a surrogate pair: judge the whole code point.
  if (code >= 0xdc00 && code <= 0xdfff && index > 0) return WORD_CHAR.test(String.fromCodePoint(text.codePointAt(index - 1) ?? code));
  return WORD_CHAR.test(String.fromCodePoint(text.codePointAt(index) ?? code));
}

function cut(text: string, ranges: Array<[number, number]>): string {
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  let result = '';
  let position = 0;
  for (const [start, end] of ranges) {
    if (start > position) result += text.slice(position, start);
    position = Math.max(position, end);
  }
  return result + text.slice(position);
}

interface Folded {
  readonly text: string;
  /** The range of the source that folded units [start, end) came from. */
  original(start: number, end: number): [number, number];
}

const foldCache = new Map<string, string>();

/**
 * Lower case, accents and other combining marks dropped, look-alike letters mapped: the form
 * identifiers are compared in. Folding can change lengths (marks vanish, `İ` lower-cases to
 * two units), so every folded unit remembers the source character it came from.
 */
function fold(source: string): Folded {
  let text = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let index = 0; index < source.length; ) {
    const codePoint = source.codePointAt(index)!;
    const width = codePoint > 0xffff ? 2 : 1;
    const folded = codePoint < 0x80 ? source[index]!.toLowerCase() : foldCharacter(source.slice(index, index + width));
    for (let unit = 0; unit < folded.length; unit++) {
      text += folded[unit];
      from.push(index);
      to.push(index + width);
    }
    index += width;
  }
  return {
    text,
    original: (start, end) => [from[start] ?? source.length, to[end - 1] ?? source.length],
  };
}

function foldCharacter(char: string): string {
  let folded = foldCache.get(char);
  if (folded === undefined) {
    folded = [...char.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()].map((letter) => LOOK_ALIKES[letter] ?? letter).join('');
    if (foldCache.size < 10_000) foldCache.set(char, folded);
  }
  return folded;
}

// ---------------------------------------------------------------------------------------
// Phone numbers.

function maskPhoneNumbers(text: string): string {
  const sheltered = shelterDates(text);
  let result = sheltered.text;
  // International forms libphonenumber recognises, then the digit rule for everything else.
  const found = findPhoneNumbersInText(result);
  for (const number of found.reverse()) result = result.slice(0, number.startsAt) + PHONE_MASK + result.slice(number.endsAt);
  result = result.replace(PHONE_CANDIDATE, (candidate) => (isPhoneLike(candidate) ? PHONE_MASK : candidate));
  return sheltered.restore(result);
}

function phoneCandidates(text: string): string[] {
  return text.match(PHONE_CANDIDATE) ?? [];
}

function isPhoneLike(candidate: string): boolean {
  return (candidate.match(DIGIT)?.length ?? 0) >= MIN_DIGITS_OF_A_PHONE_NUMBER;
}

/** Replaces calendar dates by digit-free placeholders while phone numbers are looked for. */
function shelterDates(text: string): { text: string; restore(masked: string): string } {
  const dates: string[] = [];
  const sheltered = text.replace(DATE, (date: string, ...groups: Array<string | undefined>) => {
    const [year, , first, second, day, , month] = groups;
    const valid = year !== undefined ? isDayAndMonth(Number(second), Number(first)) : isDayAndMonth(Number(day), Number(month)) || isDayAndMonth(Number(month), Number(day));
    if (!valid) return date;
    dates.push(date);
    return `${SHELTER_OPEN}${letters(dates.length - 1)}${SHELTER_CLOSE}`;
  });
  return {
    text: sheltered,
    restore: (masked) => masked.replace(SHELTERED, (_placeholder, index: string) => dates[fromLetters(index)] ?? ''),
  };
}

function isDayAndMonth(day: number, month: number): boolean {
  return day >= 1 && day <= 31 && month >= 1 && month <= 12;
}

function letters(index: number): string {
  let result = '';
  let rest = index;
  do {
    result = String.fromCharCode(97 + (rest % 26)) + result;
    rest = Math.floor(rest / 26) - 1;
  } while (rest >= 0);
  return result;
}

function fromLetters(value: string): number {
  let result = 0;
  for (const char of value) result = result * 26 + (char.charCodeAt(0) - 96);
  return result - 1;
}

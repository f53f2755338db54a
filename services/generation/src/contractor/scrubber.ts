import { findPhoneNumbersInText } from 'libphonenumber-js';
import { GenerationRpc } from '@homiwork/contracts';

/**
 * Takes the person out of a prompt before it leaves for an AI contractor (policy §7.2:
 * "email, username, account identifier, and any other information that could identify the
 * individual are not included"). Three steps:
 *
 * 1. Normalise: NFKC (full-width `ａｎａ`, `＠`, ligatures and other compatibility forms become
 *    their plain letters) and drop invisible characters (format and private-use code points,
 *    such as zero-width spaces and soft hyphens) that could split an identifier unseen.
 *    NFKC can lengthen a text many times over (`㌖` is six letters, `ﷺ` eighteen), so a
 *    text longer than MAX_PROMPT_CHARS once normalised (MAX_CONVERSATION_SCRUB_CHARS for a
 *    chat conversation, when the caller asks for that bound) is refused (AnonymizationError):
 *    every step below is linear or close to it, but only on a bounded text.
 * 2. Remove the user's own identifiers and mask what looks like anyone's contact details:
 *    - the user's email (with and without a `+tag`) is removed;
 *    - the username is removed with the whole word around it (`@ana_lopez`, `ana_lopez's`,
 *      `xxana_lopezxx`); its parts — split at its separators and where letters meet digits
 *      (`jdoe1987` is `jdoe` + `1987`) — may be joined by nothing or by up to 3 characters
 *      that are neither letters nor digits (`Ana Lopez`, `analopez`, `ana__lopez`, `ana/lopez`,
 *      `ana·lopez`, `jdoe 1987`) unless the parts are too short for that; a username
 *      shorter than 3 characters is removed only as a whole word, or it would eat half the
 *      language;
 *    - the local part of the user's email (`ana.lopez` of `ana.lopez+x@…`, 3+ characters) is
 *      removed as a whole word, its parts joined the same way: it is usually a name;
 *    - any email address becomes `[email]`, any phone number `[phone]`.
 *    Identifiers are matched on a folded copy of the text: lower case, accents dropped, and
 *    Cyrillic/Greek letters that look Latin mapped to them (`аna_lорez` with Cyrillic а, о, р),
 *    so look-alike spellings are caught too; what is removed is cut from the real text.
 * 3. Verify the result independently of how it was produced: if it still contains the email,
 *    the username, the local part, an email-like `x@y` or a phone-like number (by the same
 *    digit rule and, separately, by libphonenumber), throw. The caller sends nothing then.
 *
 * Phone numbers: a run of digits joined by at most 3 separators each (space, tab, line break,
 * `-`, `.`, `/`, `_`, `,`, `+`, parentheses, dashes, middle dots), optionally led by `+` or
 * `(`, holding 7 or more digits, in any script (`\p{Nd}`); only the digits are counted. That
 * is deliberately wider than "a valid number": `(555) 123-4567`, `0170/1234567`,
 * `555_123_4567`, `555·123·4567` and `+49 170 1234567` are caught without knowing the
 * country, and so are long order or card numbers, which are no loss to a generation prompt.
 * Three exceptions keep greetings and letters readable: real calendar dates with a year
 * 19xx or 20xx (`2025-06-14`, `14.06.2025`, `06/14/2025`; not `0170-12-12`), times of day
 * (`10:30`) and amounts grouped by commas (`1,000,000`). A date or time stays only if no
 * other digit is joined to it — `030 12.12.2025` is a phone number, its digits all count.
 * libphonenumber-js
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
/**
 * The longest text scrubbed, after normalisation: the prompt limit itself (create-generation
 * refuses a prompt whose NFKC form is longer). The input is also refused before normalising
 * if it is longer than a prompt can be even before NFKC shortens it, so no huge string is
 * ever expanded. The verify step allows more: masks can be longer than what they replace.
 */
export const MAX_SCRUB_CHARS = GenerationRpc.MAX_PROMPT_CHARS;
/**
 * The longest conversation scrubbed for a chat reply, after normalisation: the 16,000
 * characters of turns ChatReplyRoute accepts (chat-reply refuses more once in NFKC) plus the
 * role labels and line breaks of at most 100 turns. It applies only to dispatches that ask
 * for it (`ContractorJob.promptLimit: 'conversation'`), so a generation prompt keeps its
 * 4,000. Every step is close to linear, so four times the text is about four times the work
 * (measured in scrubber.spec.ts).
 */
export const MAX_CONVERSATION_SCRUB_CHARS = 16_000 + 1_500;
/** Masks can be longer than what they replace, so the verify step allows more than the scrub step. */
const VERIFY_FACTOR = 3;
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
 * It starts only where a run of non-space characters starts (the look-behind: after a
 * space, an `@`, a quote or an opening bracket) and takes at most 64 characters before the
 * `@` (RFC 5321's longest local part): unanchored and unbounded, a long run without an `@`
 * was rescanned from every position in it, quadratic in its length. A longer local part is
 * not masked, and so fails the verify step.
 */
const UNUSUAL_EMAIL = /(?<![^\s@"'(<\[{:;,])(?:"[^"\r\n]{1,64}"|[^\s@]{1,64})@(?:\[[^\]\r\n]{1,64}\]|[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)*)/gu;
/** What the verify step calls email-like: anything but space directly on both sides of an `@`. */
const EMAIL_LIKE = /[^\s@]@[^\s@]/u;
/** What may join the digits of one phone number (at most 3 in a row). */
const PHONE_SEPARATOR = '[ \\t\\n\\r\\-./()_,+\\u00B7\\u2010-\\u2015\\u2022\\u2027\\u2212\\u2219\\u22C5\\u30FB]';
/** A digit, or a sheltered date or time (whose digits count when real digits are joined to it). */
const PHONE_UNIT = '(?:\\p{Nd}|\\uE000[a-z]+\\uE001)';
const PHONE_CANDIDATE = new RegExp(`[+(]?${PHONE_UNIT}(?:${PHONE_SEPARATOR}{0,3}${PHONE_UNIT})*`, 'gu');
const DIGIT = /\p{Nd}/gu;
/** An amount grouped by commas, `1,000,000` or `12,500.50`: a count, not a number to call. */
const COMMA_GROUPED_AMOUNT = /^\p{Nd}{1,3}(?:,\p{Nd}{3})+(?:\.\p{Nd}{1,2})?$/u;
// ISO (2025-06-14) and day/month-first or month/day-first (14.06.2025, 06/14/2025) dates
// with a 4-digit year and one separator used throughout, not inside a longer digit run.
const DATE = /(?<![\p{Nd}+])(?:(\d{4})([-./])(\d{1,2})\2(\d{1,2})|(\d{1,2})([-./])(\d{1,2})\6(\d{4}))(?![\p{Nd}])/gu;
// A time of day, 10:30 or 10:30:15: its `:` joins no phone number, but a date before it would.
const TIME = /(?<![\p{Nd}:])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\p{Nd}:])/gu;
// Private-use characters carry nothing readable, and the scrubber uses two of them to shelter dates and times.
const INVISIBLE = /[\p{Cf}\p{Co}]/gu;
const SHELTER_OPEN = '\uE000';
const SHELTER_CLOSE = '\uE001';
const SHELTERED = /\uE000([a-z]+)\uE001/g;
/** What may join the parts of an identifier: nothing, or up to 3 characters that are neither letters nor digits. */
const IDENTIFIER_JOINER = '[^\\p{L}\\p{N}]{0,3}';
const WORD_CHAR = /[\p{L}\p{N}\p{M}_]/u;

/** Lower-case Cyrillic and Greek letters that are drawn like Latin ones (subset of Unicode's confusables). */
const LOOK_ALIKES: Readonly<Record<string, string>> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  і: 'i', ї: 'i', ј: 'j', ѕ: 's', ԁ: 'd', һ: 'h', ӏ: 'l', ԛ: 'q', ԝ: 'w', ү: 'y', ɡ: 'g', ı: 'i',
  α: 'a', β: 'b', ε: 'e', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w',
};

export class PromptScrubber {
  /** The anonymized prompt, or an AnonymizationError if that cannot be guaranteed. */
  /** `limit`: the longest text (once normalised) this call accepts; a generation prompt's unless the caller names a larger bound. */
  scrub(text: string, identifiers: UserIdentifiers, limit: number = MAX_SCRUB_CHARS): string {
    const normalized = normalize(text, limit);
    const patterns = identifierPatterns(identifiers);
    const scrubbed = tidy(this.mask(normalized, patterns));
    this.assertAnonymous(scrubbed, identifiers, limit);
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
  assertAnonymous(text: string, identifiers: UserIdentifiers, limit: number = MAX_SCRUB_CHARS): void {
    const patterns = identifierPatterns(identifiers);
    const normalized = normalize(text, VERIFY_FACTOR * limit);
    const folded = fold(normalized).text;
    if (patterns.emails.some((email) => folded.includes(email))) throw new AnonymizationError("the user's email address survived scrubbing");
    if (patterns.username && folded.search(patterns.username) !== -1) throw new AnonymizationError("the user's username survived scrubbing");
    if (patterns.localPart && folded.search(patterns.localPart) !== -1) throw new AnonymizationError("the user's email name survived scrubbing");
    if (EMAIL_LIKE.test(normalized)) throw new AnonymizationError('an email address survived scrubbing');
    const sheltered = shelterDatesAndTimes(normalized);
    if (phoneCandidates(sheltered.text).some((candidate) => isPhoneLike(candidate, sheltered))) throw new AnonymizationError('a phone number survived scrubbing');
    if (findPhoneNumbersInText(sheltered.text).length > 0) throw new AnonymizationError('a phone number survived scrubbing');
  }
}

/** NFKC without invisible characters; refused when longer than `limit` (before NFKC, if even composing could not bring it under, and after). */
function normalize(text: string, limit: number): string {
  if (text.length > 2 * limit) throw new AnonymizationError('the text is too long to be checked');
  const normalized = text.normalize('NFKC').replace(INVISIBLE, '');
  if (normalized.length > limit) throw new AnonymizationError('the text is too long to be checked once normalised');
  return normalized;
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
  const email = fold(normalize(identifiers.email, MAX_SCRUB_CHARS)).text.trim();
  const username = fold(normalize(identifiers.username, MAX_SCRUB_CHARS)).text.trim();
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
 * `ana_lopez` → `ana[^\p{L}\p{N}]{0,3}lopez`, so `Ana Lopez`, `ana.lopez`, `analopez`,
 * `ana__lopez`, `ana/lopez` and `ana·lopez` match too, when the parts are 2+ characters and
 * 5+ together; `a_b` stays literal, or it would match "a b…" in every other sentence. A part
 * where letters meet digits is split there too when every piece is 2+ characters (`jdoe1987`
 * → `jdoe`, `1987`, so `jdoe 1987` matches; `a1b2c3` stays whole).
 */
function flexibleSeparators(identifier: string): string {
  const parts = identifier
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .flatMap((part) => {
      const pieces = part.match(/\p{L}+|\p{N}+/gu) ?? [part];
      return pieces.length > 1 && pieces.every((piece) => piece.length >= 2) ? pieces : [part];
    });
  const flexible = parts.length > 1 && parts.every((part) => part.length >= 2) && parts.join('').length >= 5;
  return flexible ? parts.map(escapeRegExp).join(IDENTIFIER_JOINER) : escapeRegExp(identifier);
}

function wholeWord(source: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}\\p{M}_])${source}(?![\\p{L}\\p{N}\\p{M}_])`, 'gu');
}

function escapeRegExp(value: string): string {
  // In unicode mode `\-` is a syntax error outside a class: a hyphen is written as \x2d, so
  // an address like jean-luc@… (or a username with a dash) is scrubbed, not failed closed.
  return value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replaceAll('-', '\\x2d');
}

function removeIdentifiers(text: string, patterns: IdentifierPatterns): string {
  const folded = fold(text);
  const ranges: Array<[number, number]> = [];
  for (const email of patterns.emails) {
    for (let index = folded.text.indexOf(email); index !== -1; index = folded.text.indexOf(email, index + 1)) {
      ranges.push(folded.original(index, index + email.length));
    }
  }
  if (patterns.username && patterns.infix) ranges.push(...wholeTokens(text, folded, patterns.username));
  for (const match of patterns.username && !patterns.infix ? folded.text.matchAll(patterns.username) : []) {
    ranges.push(withMention(text, folded.original(match.index, match.index + match[0].length)));
  }
  for (const match of patterns.localPart ? folded.text.matchAll(patterns.localPart) : []) {
    ranges.push(withMention(text, folded.original(match.index, match.index + match[0].length)));
  }
  return cut(text, ranges);
}

/**
 * Every match widened to the word it sits in, each word widened once: a match inside or
 * touching the range the previous one widened to extends that range instead of scanning
 * the word again (`viii…` with username `vii` was one rescan of the whole run per match).
 */
function wholeTokens(text: string, folded: Folded, pattern: RegExp): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let last: [number, number] | undefined;
  for (const match of folded.text.matchAll(pattern)) {
    const [start, end] = folded.original(match.index, match.index + match[0].length);
    if (last && start <= last[1]) {
      if (end > last[1]) last[1] = widenRight(text, end);
      continue;
    }
    last = [widenLeft(text, start, last?.[1] ?? 0), widenRight(text, end)];
    ranges.push(last);
  }
  return ranges;
}

/** Widens a match's start to the start of its word (`@ana_lopez`, `xxana_lopez`), not before `floor`. */
function widenLeft(text: string, start: number, floor: number): number {
  let from = start;
  while (from > floor && (isWordChar(text, from - 1) || isJoiner(text[from - 1]))) from--;
  return from;
}

/** Widens a match's end to the end of its word: `ana_lopez's`, `ana_lopezxx`, `ana_lopez@mail.example`. */
function widenRight(text: string, end: number): number {
  let to = end;
  for (;;) {
    if (to < text.length && (isWordChar(text, to) || text[to] === "'" || text[to] === '’' || text[to] === '-')) to++;
    else if (to + 1 < text.length && isJoiner(text[to]) && isWordChar(text, to + 1)) to++;
    else break;
  }
  return to;
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
  const sheltered = shelterDatesAndTimes(text);
  let result = sheltered.text;
  // International forms libphonenumber recognises, then the digit rule for everything else.
  const found = findPhoneNumbersInText(result);
  for (const number of found.reverse()) result = result.slice(0, number.startsAt) + PHONE_MASK + result.slice(number.endsAt);
  result = result.replace(PHONE_CANDIDATE, (candidate) => (isPhoneLike(candidate, sheltered) ? PHONE_MASK : candidate));
  return sheltered.restore(result);
}

function phoneCandidates(text: string): string[] {
  return text.match(PHONE_CANDIDATE) ?? [];
}

/**
 * 7+ digits, separators not counted. A candidate made only of sheltered dates and times
 * (`14.06.2025, 10:30`) is not a number; one with a real digit joined to a date counts the
 * date's digits too (`030 12.12.2025`). A comma-grouped amount is not a number either.
 */
function isPhoneLike(candidate: string, sheltered: Sheltered): boolean {
  let shelteredDigits = 0;
  const rest = candidate.replace(SHELTERED, (_placeholder, index: string) => {
    shelteredDigits += sheltered.digitsOf(index);
    return '';
  });
  const digits = rest.match(DIGIT)?.length ?? 0;
  if (digits === 0) return false;
  if (rest === candidate && COMMA_GROUPED_AMOUNT.test(candidate)) return false;
  return digits + shelteredDigits >= MIN_DIGITS_OF_A_PHONE_NUMBER;
}

interface Sheltered {
  readonly text: string;
  /** How many digits the date or time behind a placeholder's letters has. */
  digitsOf(index: string): number;
  restore(masked: string): string;
}

/** Replaces real calendar dates and times of day by digit-free placeholders while phone numbers are looked for. */
function shelterDatesAndTimes(text: string): Sheltered {
  const kept: string[] = [];
  const shelter = (value: string): string => {
    kept.push(value);
    return `${SHELTER_OPEN}${letters(kept.length - 1)}${SHELTER_CLOSE}`;
  };
  const sheltered = text
    .replace(DATE, (date: string, ...groups: Array<string | undefined>) => {
      const [isoYear, , isoMonth, isoDay, first, , second, year] = groups;
      const valid =
        isoYear !== undefined
          ? isDate(Number(isoYear), Number(isoMonth), Number(isoDay))
          : isDate(Number(year), Number(second), Number(first)) || isDate(Number(year), Number(first), Number(second));
      return valid ? shelter(date) : date;
    })
    .replace(TIME, shelter);
  return {
    text: sheltered,
    digitsOf: (index) => kept[fromLetters(index)]?.match(DIGIT)?.length ?? 0,
    restore: (masked) => masked.replace(SHELTERED, (_placeholder, index: string) => kept[fromLetters(index)] ?? ''),
  };
}

/** A day that exists, in a year a prompt plausibly names: 1900–2099. */
function isDate(year: number, month: number, day: number): boolean {
  if (year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
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

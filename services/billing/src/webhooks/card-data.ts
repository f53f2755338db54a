/**
 * §2.1.5: billing never receives card data. A body that carries any is refused before
 * anything else looks at it (it is then neither stored nor logged). The text is first
 * NFKC-normalised and every decimal digit of any script read as its ASCII digit, so
 * full-width or Arabic-Indic digits, no-break spaces and compatibility letters in keys
 * count as what they look like. What counts:
 *
 * - a card number: 13–19 digits that pass the Luhn check, written as one run of digits or
 *   as groups joined by one and the same single separator (any character that is not a
 *   letter or digit: space, dash, dot, slash, underscore, tab, no-break space…), wherever
 *   it stands — also glued to letters (`txn4111…`), next to other numbers (`4111 1111 1111
 *   1111 12 27`), in a string, as a JSON number, in a key;
 * - a key naming a card field — cvv/cvc/csc, PAN, an expiry (`exp`, `expiry`,
 *   `exp_month`, `card_exp`…), a security code, a card number or cardholder — judged by
 *   its words (`card_number`, `cardNumber`, `card.code`, `card[cvc]`), and under a key
 *   naming a card also `number`, `num`, `code`… — in JSON at any depth (also JSON inside a
 *   string) or as `key=` in a form body.
 *
 * The raw text is scanned as well as the decoded JSON, so neither `\u0034…` escapes nor a
 * body that is not JSON at all slip through.
 *
 * What is left alone, so that ordinary notifications pass: a run of digits longer than 19
 * (an id, not a card); a UUID (8-4-4-4-12 hex: no card is written so); groups joined by
 * mixed separators (`2025-12-03 13:31:00.000+01:00`: a time, not a card); numbers starting
 * with 0 (no card network issues them) or with 1 unless 15 digits long (UATP's; 13, 16 and
 * 19 digits starting with 1 are epoch milliseconds, micro- and nanoseconds of this era);
 * words that merely contain a card word (`expires`, `expected`, `panel`, `company`,
 * `cardBrand`, `last4`). Any other 13–19-digit number has a 1 in 10 chance of passing
 * Luhn and is then refused too; the processor's format carries none.
 */
export function containsCardData(body: string): boolean {
  const normalized = normalize(body);
  if (hasCardNumberIn(normalized) || hasCardKeyInText(normalized)) return true;
  const parsed = tryJson(body);
  return parsed.ok && walk(parsed.value, 0, false);
}

export function hasCardNumber(text: string): boolean {
  return hasCardNumberIn(normalize(text));
}

/** NFKC, then every decimal digit of another script as its ASCII digit. */
function normalize(text: string): string {
  const compatible = text.normalize('NFKC');
  return NON_ASCII_DIGIT.test(compatible) ? compatible.replace(NON_ASCII_DIGIT_ALL, (digit) => String(digitValue(digit.codePointAt(0)!))) : compatible;
}

const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/u;
const NON_ASCII_DIGIT_ALL = /(?![0-9])\p{Nd}/gu;
const DECIMAL_DIGIT = /^\p{Nd}$/u;

// Unicode encodes every script's decimal digits as contiguous runs of ten, zero first.
function digitValue(codePoint: number): number {
  let zero = codePoint;
  while (zero > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return (codePoint - zero) % 10;
}

// UUIDs are masked with letters: their digit groups end at hex letters or at the next field.
const UUID = /(?<![\p{L}\p{N}])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\p{L}\p{N}])/giu;
const LETTER_OR_NUMBER = /[\p{L}\p{N}\p{M}]/u;

function hasCardNumberIn(normalized: string): boolean {
  const text = normalized.replace(UUID, 'uuid');
  // A run: digit groups, each two joined by exactly one separator character.
  let groups: string[] = [];
  let separators: string[] = [];
  let current = '';
  let separator: string | undefined;
  const endRun = (): boolean => {
    if (current !== '') groups.push(current);
    const found = groups.length > 0 && hasCardWindow(groups, separators);
    groups = [];
    separators = [];
    current = '';
    separator = undefined;
    return found;
  };
  for (const char of text) {
    if (char >= '0' && char <= '9') {
      if (separator !== undefined) {
        groups.push(current);
        separators.push(separator);
        current = '';
        separator = undefined;
      }
      current += char;
    } else if (current !== '' && separator === undefined && !LETTER_OR_NUMBER.test(char)) {
      separator = char;
    } else if (current !== '' && endRun()) {
      return true;
    } else {
      separator = undefined;
    }
  }
  return endRun();
}

/** Any consecutive groups, joined by one and the same separator, that make a card number. */
function hasCardWindow(groups: string[], separators: string[]): boolean {
  for (let first = 0; first < groups.length; first++) {
    let digits = '';
    for (let last = first; last < groups.length; last++) {
      if (last > first && separators[last - 1] !== separators[first]) break;
      digits += groups[last];
      if (digits.length > 19) break;
      if (digits.length >= 13 && couldBeCardNumber(digits)) return true;
    }
  }
  return false;
}

function couldBeCardNumber(digits: string): boolean {
  if (digits[0] === '0' || (digits[0] === '1' && digits.length !== 15)) return false;
  return passesLuhn(digits);
}

export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Words that are card data by themselves, whatever key they are in. */
const CARD_FIELD_WORDS = new Set(['cvv', 'cvc', 'csc', 'cvn', 'cvd', 'ccv', 'pan', 'cardholder']);
/** `exp`, `expiry`, `expiration`, and the same with date/month/year in one word — not `expires` or `expected`. */
const EXPIRY_WORD = /^exp(?:iry|iration)?(?:date|dt|month|mon|mo|mm|year|yr|yy|yyyy)?$/;
/** Spellings run together in one word. */
const CARD_FIELD_SUBSTRINGS = ['cvv', 'cvc', 'securitycode', 'cardnumber', 'cardnum', 'cardno', 'cardcode', 'cardexp', 'cardpin', 'cardholder', 'ccnumber', 'ccnum', 'ccexp', 'primaryaccountnumber'];
/** Words that name a card, making what is under or beside them a card's field. */
const CARD_WORDS = new Set(['card', 'cc', 'creditcard', 'debitcard', 'paymentcard']);
/** A card's fields that are card data: its number, its code, its holder. */
const CARD_PART_WORDS = new Set(['number', 'num', 'no', 'nr', 'code', 'pin', 'holder', 'verification', 'security', 'track']);

/** A key's words: `cardNumber`, `card_number`, `CARD-NUMBER` → card, number (trailing digits dropped: `cvv2` → cvv). */
function wordsOf(part: string): string[] {
  return part
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .map((word) => word.replace(/[0-9]+$/, ''))
    .filter(Boolean);
}

/**
 * Whether a key names card data. `underCard`: the key sits inside an object whose key names
 * a card (`{card: {code}}`). A dotted or bracketed key is read as that path (`card.code`,
 * `card[cvc]`).
 */
export function isCardKey(key: string, underCard = false): boolean {
  return cardKeyVerdict(key, underCard).cardData;
}

function cardKeyVerdict(key: string, underCard: boolean): { cardData: boolean; namesCard: boolean } {
  let inCard = underCard;
  for (const part of key.normalize('NFKC').split(/[.[\]]+/)) {
    const words = wordsOf(part);
    const squashed = words.join('');
    const namesCard = words.some((word) => CARD_WORDS.has(word));
    if (
      words.some((word) => CARD_FIELD_WORDS.has(word) || EXPIRY_WORD.test(word)) ||
      CARD_FIELD_SUBSTRINGS.some((spelling) => squashed.includes(spelling)) ||
      (words.includes('security') && words.includes('code')) ||
      ((inCard || namesCard) && words.some((word) => CARD_PART_WORDS.has(word)))
    ) {
      return { cardData: true, namesCard: true };
    }
    inCard ||= namesCard;
  }
  return { cardData: false, namesCard: inCard };
}

// `"key":` as JSON writes it (escapes allowed inside), and `key=` as a form body does.
const JSON_KEY = /"((?:[^"\\]|\\.){1,64})"\s*:/g;
const FORM_KEY = /(?:^|[&?;\s])([A-Za-z0-9_.[\]-]{1,64})=/g;

function hasCardKeyInText(text: string): boolean {
  for (const match of text.matchAll(JSON_KEY)) if (isCardKey(match[1]!)) return true;
  for (const match of text.matchAll(FORM_KEY)) if (isCardKey(match[1]!)) return true;
  return false;
}

const MAX_DEPTH = 32;

function walk(value: unknown, depth: number, underCard: boolean): boolean {
  if (depth > MAX_DEPTH) return false;
  if (typeof value === 'string') {
    if (hasCardNumber(value)) return true;
    const trimmed = value.trimStart();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      const nested = tryJson(value);
      if (nested.ok && walk(nested.value, depth + 1, underCard)) return true;
    }
    return false;
  }
  if (Array.isArray(value)) return value.some((item) => walk(item, depth + 1, underCard));
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const verdict = cardKeyVerdict(key, underCard);
      if (verdict.cardData || hasCardNumber(key) || walk(item, depth + 1, verdict.namesCard)) return true;
    }
  }
  return false;
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * §2.1.5: billing never receives card data. A body that carries any is refused before
 * anything else looks at it (it is then neither stored nor logged). What counts:
 *
 * - a number of 13–19 digits (spaces or dashes allowed between digits) that stands on its
 *   own — not glued to letters or digits, as inside a hex id — and passes the Luhn check,
 *   anywhere: in a string, as a JSON number, in a key;
 * - a key naming a card field: card number, PAN, CVV/CVC/CSC, security code, expiry month,
 *   year or date — in JSON at any depth (also JSON inside a string) or as `key=` in a form body.
 *
 * The raw text is scanned as well as the decoded JSON, so neither `\u0034…` escapes nor a
 * body that is not JSON at all slip through. The processor's own format carries no such
 * numbers (amounts are small integers, times ISO strings), so a false alarm needs a
 * 13–19-digit standalone number that happens to pass Luhn: 1 in 10 of those.
 */
export function containsCardData(body: string): boolean {
  if (hasCardNumber(body) || hasCardKeyInText(body)) return true;
  const parsed = tryJson(body);
  return parsed.ok && walk(parsed.value, 0);
}

const DIGIT_RUN = /[0-9](?:[ -]?[0-9])*/g;
const ALNUM = /[A-Za-z0-9]/;

export function hasCardNumber(text: string): boolean {
  for (const match of text.matchAll(DIGIT_RUN)) {
    const start = match.index;
    const end = start + match[0].length;
    if ((start > 0 && ALNUM.test(text[start - 1]!)) || (end < text.length && ALNUM.test(text[end]!))) continue;
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && passesLuhn(digits)) return true;
  }
  return false;
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

const CARD_KEYS = new Set([
  'pan',
  'primaryaccountnumber',
  'cardnumber',
  'cardno',
  'cardnum',
  'ccnumber',
  'creditcardnumber',
  'cvv',
  'cvv2',
  'cvc',
  'cvc2',
  'csc',
  'cvn',
  'securitycode',
  'cardsecuritycode',
  'cardcvv',
  'cardcvc',
  'expmonth',
  'expyear',
  'expdate',
  'expiry',
  'expirymonth',
  'expiryyear',
  'expirydate',
  'expirationmonth',
  'expirationyear',
  'expirationdate',
  'cardexpiry',
  'cardexpmonth',
  'cardexpyear',
]);

export function isCardKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return CARD_KEYS.has(normalized);
}

// `"key":` as JSON writes it (escapes allowed inside), and `key=` as a form body does.
const JSON_KEY = /"((?:[^"\\]|\\.){1,64})"\s*:/g;
const FORM_KEY = /(?:^|[&?;\s])([A-Za-z0-9_.[\]-]{1,64})=/g;

function hasCardKeyInText(text: string): boolean {
  for (const match of text.matchAll(JSON_KEY)) if (isCardKey(match[1]!)) return true;
  for (const match of text.matchAll(FORM_KEY)) {
    const key = match[1]!;
    // `card[cvc]=` as well as `card_number=`: the whole key and its last bracketed part.
    if (isCardKey(key) || isCardKey(key.replace(/^.*\[|\]$/g, ''))) return true;
  }
  return false;
}

const MAX_DEPTH = 32;

function walk(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (typeof value === 'string') {
    if (hasCardNumber(value)) return true;
    const trimmed = value.trimStart();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      const nested = tryJson(value);
      if (nested.ok && walk(nested.value, depth + 1)) return true;
    }
    return false;
  }
  if (Array.isArray(value)) return value.some((item) => walk(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (isCardKey(key) || hasCardNumber(key) || walk(item, depth + 1)) return true;
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

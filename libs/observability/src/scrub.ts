/**
 * Removes personal data from anything on its way to a log line, a span or a metric label
 * (privacy policy §2.1.4, §5.6; requirements R2.1, R2.4). Two layers, because neither alone
 * is enough: properties whose *name* says they hold personal data are blanked whatever
 * their value, and every remaining string is searched for values that *look* personal
 * (emails, IP addresses, tokens, secrets) wherever they hide (a message, a URL, a stack).
 */

export const REDACTED = '[redacted]';

// Key names are compared lower-cased with '-' and '_' removed, so "X-Forwarded-For",
// "x_forwarded_for" and "xForwardedFor" are one name.
// "parameters" and "detail" are how database errors (TypeORM's QueryFailedError, pg's
// unique-violation detail) carry the values of a failed statement.
const REDACTED_KEYS = new Set(['ip', 'text', 'parameters', 'detail']);
// A suffix match also catches "userEmail", "idToken", "clientSecret", "systemPrompt"...
// ("ip" and "text" are exact only: "membership" or "context" are not personal).
const REDACTED_KEY_SUFFIXES = [
  'email',
  'username',
  'password', // also newPassword, currentPassword
  'token', // also accessToken, refreshToken
  'authorization',
  'cookie', // also set-cookie
  'ipaddress',
  'remoteaddress',
  'xforwardedfor',
  'xrealip',
  'prompt',
  'secret',
  'apikey',
  'hash', // passwordHash, tokenHash: derived from secrets, useless in a log
];

// Trace correlation ids are random hex strings that would otherwise look like secrets; they
// identify a request, not a person, and are what makes a log line findable from a trace.
const CORRELATION_KEYS = new Set(['traceid', 'spanid', 'traceparent']);
const CORRELATION_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32}|00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})$/;

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

function isRedactedKey(key: string): boolean {
  const name = normalizeKey(key);
  return REDACTED_KEYS.has(name) || REDACTED_KEY_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_SOURCE = `(?:${OCTET}\\.){3}${OCTET}`;
const HEX_GROUP = '[0-9A-Fa-f]{1,4}';
// Eight full groups, or a "::"-compressed form with at least one group; "12:34:56" (a time)
// and "aa:bb:cc:dd:ee:ff" (a MAC) have neither shape and survive.
const IPV6_SOURCE =
  `(?:(?:${HEX_GROUP}:){7}${HEX_GROUP}` +
  `|(?:${HEX_GROUP}(?::${HEX_GROUP}){0,6})?::${HEX_GROUP}(?::${HEX_GROUP}){0,6}(?:\\.\\d{1,3}){0,3}` +
  `|${HEX_GROUP}(?::${HEX_GROUP}){0,6}::)`;

/** Anchored shapes, for tests of a whole value (e.g. a metric label). */
export const PATTERNS = {
  // The look-behind lets a match start only where a run starts, which keeps long strings linear.
  email: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/,
  ipv4: new RegExp(`(?<![\\d.])${IPV4_SOURCE}(?![\\d]|\\.\\d)`),
  ipv6: new RegExp(`(?<![\\w:])${IPV6_SOURCE}(?![\\w:])`),
  uuid: /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/,
};

const everywhere = (pattern: RegExp): RegExp => new RegExp(pattern.source, 'g');

const UUID_G = everywhere(PATTERNS.uuid);

// Order matters: a bearer token may itself be a JWT, an email address may contain dots.
const REPLACEMENTS: Array<[RegExp, (match: string) => string]> = [
  [everywhere(PATTERNS.email), () => '[email]'],
  [/\bBearer\s+[^\s"',;]+/gi, () => 'Bearer [token]'],
  // A JWT header is JSON, so it starts "eyJ"; other three-part tokens need long segments
  // so that host names ("api.example.com") and versions ("1.2.3") survive.
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]*|(?<![\w.-])[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}(?![\w-])/g, () => '[token]'],
  [everywhere(PATTERNS.ipv6), () => '[ip]'],
  [everywhere(PATTERNS.ipv4), () => '[ip]'],
  [/(?<![\w-])[\w-]{32,}(?![\w-])/g, (run) => (looksLikeSecret(run) ? '[secret]' : run)],
];

/**
 * A run of 32+ base64url/hex characters is a secret unless it is made of UUIDs (opaque ids
 * that must stay), has no letter (a number), or reads as a name: segments (split at `-` and `_`) that are each words in camel or
 * lower case ending, at most, in a number — the project's own consumer, migration and
 * stream names (`identity--prime-status-changed-v1`, `CreateMessagingTables1764200000000`).
 * Random keys, hashes and tokens do not look like that.
 */
function looksLikeSecret(run: string): boolean {
  return run
    .replace(UUID_G, ' ')
    .split(' ')
    .some((part) => part.length >= 32 && /[A-Za-z]/.test(part) && !isName(part));
}

/**
 * The project's names are made of words (`prime`, `Status`, `Messaging`) averaging well over
 * four letters; random base64url is about half upper case, so split into camel-case words it
 * averages about two. Without this, a random token that happens to hold no digit (1 in ~250
 * of 32 characters) would parse as a run of short camel-case words.
 */
const MIN_NAME_WORD_LENGTH = 4;

// Linear: words in camel or lower case (each upper-case letter starts a word), or a short
// upper-case word, then digits. No nested quantifier, so no input can make it backtrack.
const NAME_SEGMENT = /^(?:[A-Za-z][a-z]*(?:[A-Z][a-z]*)*|[A-Z]{1,8})\d*$|^\d+$/;

function isName(part: string): boolean {
  const words = part.match(/[A-Z]?[a-z]+|[A-Z]+(?![a-z])/g) ?? [];
  const letters = words.reduce((sum, word) => sum + word.length, 0);
  if (words.length === 0 || letters / words.length < MIN_NAME_WORD_LENGTH) return false;
  return part
    .split(/[-_]+/)
    .filter(Boolean)
    .every((segment) => NAME_SEGMENT.test(segment));
}

export function scrubString(value: string): string {
  let result = value;
  for (const [pattern, replacement] of REPLACEMENTS) {
    result = result.replace(pattern, replacement);
  }
  return result;
}

const MAX_DEPTH = 10;

/**
 * Returns a copy of `value` without personal data: redacted keys at any depth, scrubbed
 * strings everywhere. Errors become plain `{ type, message, stack, ...props }` objects
 * (the static type `T` is kept for convenience; the runtime shape is JSON-like, as it would
 * be once serialized). Cycles and very deep nesting are cut rather than followed.
 */
export function scrubPersonalData<T>(value: T): T {
  return scrub(value, 0, new WeakSet()) as T;
}

function scrub(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  // Bytes are never worth walking (and a file's bytes may be personal content).
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();

  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1, seen));
    const source = value instanceof Error ? errorToObject(value) : toJsonShape(value);
    if (source !== value) return scrub(source, depth, seen);
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(source)) {
      if (isRedactedKey(key)) {
        result[key] = item === undefined || item === null ? item : REDACTED;
      } else if (CORRELATION_KEYS.has(normalizeKey(key)) && typeof item === 'string' && CORRELATION_ID.test(item)) {
        result[key] = item;
      } else {
        result[key] = scrub(item, depth + 1, seen);
      }
    }
    return result;
  } finally {
    seen.delete(value);
  }
}

/** What JSON.stringify would see (e.g. a URL or a class with toJSON). */
function toJsonShape(value: object): unknown {
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  return typeof toJSON === 'function' ? (toJSON as () => unknown).call(value) : value;
}

function errorToObject(error: Error): Record<string, unknown> {
  const result: Record<string, unknown> = {
    ...error, // enumerable own properties such as `code` or `statusCode`
    type: error.constructor?.name ?? error.name,
    message: error.message,
    stack: error.stack,
  };
  if (error.cause !== undefined) result.cause = error.cause;
  if (error instanceof AggregateError) result.errors = error.errors;
  return result;
}

import { UploadRejected } from './upload-rejected.js';

// C0 and C1 control characters except tab and line feed (carriage returns are gone by then).
// They are invisible, can hide text from a reader or a moderation rule, and serve no prose.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
// A UTF-8 character takes at most 4 bytes: anything longer than this cannot fit.
const MAX_BYTES_PER_CHAR = 4;

/**
 * Uploaded text as stored and used: strictly valid UTF-8, no BOM, `\n` newlines, no control
 * characters, NFC (so the same words are the same code points for rules and models).
 * `maxChars` counts code points after normalisation.
 */
export function normalizeText(buffer: Uint8Array, maxChars = 100_000): string {
  if (buffer.length > maxChars * MAX_BYTES_PER_CHAR) throw tooLong(maxChars);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buffer);
  } catch {
    throw new UploadRejected(415, 'invalid_utf8', 'The text is not valid UTF-8');
  }
  text = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL, '')
    .normalize('NFC');
  if (countCodePoints(text, maxChars) > maxChars) throw tooLong(maxChars);
  return text;
}

function tooLong(maxChars: number): UploadRejected {
  return new UploadRejected(413, 'text_too_long', `The text is longer than ${maxChars} characters`);
}

/** Counts up to `limit + 1` code points, enough to know whether the text is too long. */
function countCodePoints(text: string, limit: number): number {
  if (text.length <= limit) return text.length;
  let count = 0;
  for (let index = 0; index < text.length && count <= limit; index += 1) {
    // A high surrogate starts a pair (strict decoding leaves no lone ones): one code point.
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) index += 1;
    count += 1;
  }
  return count;
}

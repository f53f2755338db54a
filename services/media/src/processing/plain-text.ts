export type UnknownBytesVerdict = 'text' | 'markup' | 'binary';

const BOM = '\uFEFF';
const MARKUP_START = /^(?:<!doctype\s+html|<html|<svg|<\?xml)/i;
const SCRIPT = /<script/i;

/**
 * Classifies bytes no magic number matched. Text is valid UTF-8 without NUL bytes;
 * markup is refused even though it is text, because a stored HTML or SVG file served back
 * by mistake would run its scripts in the reader's browser.
 *
 * `complete` is false when `sample` is only the beginning of the file: a multi-byte
 * character cut at the end is then not an error.
 */
export function classifyUnknownBytes(sample: Uint8Array, complete: boolean): UnknownBytesVerdict {
  if (sample.includes(0)) return 'binary';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(sample, { stream: !complete });
  } catch {
    return 'binary';
  }
  const start = (text.startsWith(BOM) ? text.slice(1) : text).trimStart();
  if (MARKUP_START.test(start) || SCRIPT.test(text)) return 'markup';
  return 'text';
}

import { describe, expect, it } from 'vitest';
import { normalizeText } from './text-normalizer.js';
import { UploadRejected } from './upload-rejected.js';

const utf8 = (text: string) => Buffer.from(text, 'utf8');

function rejectionOf(action: () => unknown): UploadRejected {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UploadRejected);
    return error as UploadRejected;
  }
  throw new Error('expected a rejection');
}

describe('normalizeText', () => {
  it('strips a leading BOM only', () => {
    expect(normalizeText(utf8('\uFEFFhello'))).toBe('hello');
    expect(normalizeText(utf8('a\uFEFFb'))).toBe('a\uFEFFb');
  });

  it('turns CRLF and lone CR into LF', () => {
    expect(normalizeText(utf8('one\r\ntwo\rthree\nfour'))).toBe('one\ntwo\nthree\nfour');
  });

  it('removes C0/C1 control characters but keeps tab and newline', () => {
    expect(normalizeText(utf8('a\u0000b\u0007c\u001Bd\u007Fe\u0085f\u009Fg\th\ni'))).toBe('abcdefg\th\ni');
  });

  it('normalises to NFC', () => {
    const decomposed = 'Cafe\u0301';
    expect(normalizeText(utf8(decomposed))).toBe('Caf\u00E9');
    expect(normalizeText(utf8(decomposed)).length).toBe(4);
  });

  it('keeps non-Latin scripts and emoji intact', () => {
    expect(normalizeText(utf8('Привет 你好 👋🏽'))).toBe('Привет 你好 👋🏽');
  });

  it('refuses invalid UTF-8 with 415 invalid_utf8', () => {
    for (const bytes of [Buffer.from('Café', 'latin1'), Buffer.from([0x61, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf])]) {
      const error = rejectionOf(() => normalizeText(bytes));
      expect({ status: error.status, code: error.code }).toEqual({ status: 415, code: 'invalid_utf8' });
    }
  });

  it('counts code points after normalisation against maxChars: 413 text_too_long beyond', () => {
    expect(normalizeText(utf8('👋'.repeat(10)), 10)).toBe('👋'.repeat(10));
    expect(normalizeText(utf8('e\u0301'.repeat(10)), 10)).toBe('é'.repeat(10));
    const error = rejectionOf(() => normalizeText(utf8('x'.repeat(11)), 10));
    expect({ status: error.status, code: error.code }).toEqual({ status: 413, code: 'text_too_long' });
    expect(rejectionOf(() => normalizeText(utf8('👋'.repeat(11)), 10)).code).toBe('text_too_long');
  });

  it('refuses a buffer that cannot fit before decoding it, and accepts the default 100,000 characters', () => {
    expect(rejectionOf(() => normalizeText(Buffer.alloc(401), 100)).code).toBe('text_too_long');
    expect(normalizeText(utf8('a'.repeat(100_000))).length).toBe(100_000);
    expect(rejectionOf(() => normalizeText(utf8('a'.repeat(100_001)))).code).toBe('text_too_long');
  });

  it('never echoes the content in its messages', () => {
    expect(rejectionOf(() => normalizeText(utf8('secret '.repeat(5)), 10)).message).not.toContain('secret');
  });
});

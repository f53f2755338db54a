import { describe, expect, it } from 'vitest';
import { classifyUnknownBytes } from './plain-text.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

describe('classifyUnknownBytes', () => {
  it.each([
    ['prose', 'Dear Anna,\nhappy birthday!'],
    ['a mention of markup that is not markup', 'Use the <b> tag for bold, or write 3 < 4 > 2.'],
    ['JSON', '{"a": [1, 2, 3]}'],
  ])('%s is text', (_name, text) => {
    expect(classifyUnknownBytes(bytes(text), true)).toBe('text');
  });

  it.each([
    ['<!DOCTYPE html>', '<!DOCTYPE html><p>x'],
    ['<html> after a BOM and whitespace', '\uFEFF \n\t<HTML lang="en">'],
    ['<svg>', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
    ['<?xml', '<?xml version="1.0"?><a/>'],
    ['<script anywhere', 'hello\n\n<ScRiPt>alert(1)</script>'],
  ])('%s is markup', (_name, text) => {
    expect(classifyUnknownBytes(bytes(text), true)).toBe('markup');
  });

  it('calls NUL bytes and invalid UTF-8 binary', () => {
    expect(classifyUnknownBytes(bytes('a\u0000b'), true)).toBe('binary');
    expect(classifyUnknownBytes(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), true)).toBe('binary');
  });

  it('forgives a character cut at the end of a partial sample, not of a whole file', () => {
    const cut = bytes('abc€').subarray(0, 5); // € is 3 bytes; keep 2 of them
    expect(classifyUnknownBytes(cut, false)).toBe('text');
    expect(classifyUnknownBytes(cut, true)).toBe('binary');
  });
});

import { describe, expect, it } from 'vitest';
import { acceptsInput, inputKindOf } from './input-kinds.js';

describe('input kinds', () => {
  it.each([
    ['image/webp', 'image'],
    ['audio/mp4', 'audio'],
    ['video/mp4', 'video'],
    ['text/plain', undefined],
    ['text/plain; charset=utf-8', undefined],
    ['image/svg+xml', undefined],
    ['application/json', undefined],
    ['application/octet-stream', undefined],
    ['image/png; name="x"', undefined],
  ])('%s is %s', (mimeType, kind) => {
    expect(inputKindOf(mimeType)).toBe(kind);
  });

  it('takes images for every kind, sound for songs and videos, film for videos, text for none', () => {
    for (const kind of ['song', 'image', 'poem', 'text', 'video'] as const) {
      expect(acceptsInput(kind, 'image')).toBe(true);
      expect(acceptsInput(kind, 'text')).toBe(false);
    }
    expect(['song', 'image', 'poem', 'text', 'video'].filter((kind) => acceptsInput(kind as 'song', 'audio'))).toEqual(['song', 'video']);
    expect(['song', 'image', 'poem', 'text', 'video'].filter((kind) => acceptsInput(kind as 'song', 'video'))).toEqual(['video']);
  });
});

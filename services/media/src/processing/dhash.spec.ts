import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import { formatDHash, hammingDistance, ImageBlocklistCheck, Moderator, parseBlocklist } from '@homiwork/moderation';
import { ImageTransformer } from './image-transformer.js';

describe('ImageTransformer.dHash', () => {
  const transformer = new ImageTransformer();
  let dir: string;
  let original: string;
  let copy: string;
  let other: string;

  beforeAll(async () => {
    dir = await fixtures.createTempDir('dhash');
    original = await fixtures.patternJpeg(dir, 'a.jpg', 'a');
    copy = await fixtures.reencodedCopy(dir, original, 'a-copy.jpg');
    other = await fixtures.patternJpeg(dir, 'b.jpg', 'b');
  });
  afterAll(() => fixtures.removeTempDir(dir));

  it('is stable for the same image, from a path or from a buffer', async () => {
    const [fromPath, again, fromBuffer] = await Promise.all([transformer.dHash(original), transformer.dHash(original), transformer.dHash(await readFile(original))]);
    expect(again).toBe(fromPath);
    expect(fromBuffer).toBe(fromPath);
    expect(fromPath).not.toBe(0n);
  });

  it('stays close for a resized, re-encoded copy — and for the transformed WebP — but not for another picture', async () => {
    const transformed = join(dir, 'a.webp');
    await transformer.transform(original, transformed);
    const [a, aCopy, aWebp, b] = await Promise.all([transformer.dHash(original), transformer.dHash(copy), transformer.dHash(transformed), transformer.dHash(other)]);
    expect(hammingDistance(a, aCopy)).toBeLessThanOrEqual(4);
    expect(hammingDistance(a, aWebp)).toBeLessThanOrEqual(4);
    expect(hammingDistance(a, b)).toBeGreaterThan(20);
  });

  it('feeds the block-list: a listed picture is refused in any re-encoding, others pass', async () => {
    const listed = await transformer.dHash(original);
    const moderator = new Moderator([new ImageBlocklistCheck(parseBlocklist(`0123456789abcdef, ${formatDHash(listed)}`), 6)]);
    expect(await moderator.image(await transformer.dHash(copy))).toEqual({ allowed: false, rule: 'image-blocklist:1' });
    expect(await moderator.image(await transformer.dHash(other))).toEqual({ allowed: true });
  });
});

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import { differenceHash, formatDHash, hammingDistance } from '@homiwork/perceptual-hash';
import { ImageBlocklistCheck } from './image-blocklist-check.js';
import { ImageTransformer } from './image-transformer.js';
import { parseBlocklist } from './moderation-config.js';
import { Moderator } from './moderation.js';

describe('hammingDistance and formatDHash', () => {
  it('counts differing bits over 64 bits', () => {
    expect(hammingDistance(0n, 0n)).toBe(0);
    expect(hammingDistance(0b1011n, 0b0001n)).toBe(2);
    expect(hammingDistance(0n, (1n << 64n) - 1n)).toBe(64);
    expect(hammingDistance(0x8000000000000000n, 0x0000000000000001n)).toBe(2);
  });

  it('formats 16 lowercase hex digits, zero-padded', () => {
    expect(formatDHash(0xabcn)).toBe('0000000000000abc');
    expect(formatDHash(0xffffffffffffffffn)).toBe('ffffffffffffffff');
  });

  it('differenceHash sets a bit where a pixel is brighter than its right neighbour', () => {
    const descending = Uint8Array.from({ length: 72 }, (_, index) => 255 - (index % 9) * 10);
    const ascending = Uint8Array.from({ length: 72 }, (_, index) => (index % 9) * 10);
    expect(differenceHash(descending)).toBe((1n << 64n) - 1n);
    expect(differenceHash(ascending)).toBe(0n);
    expect(() => differenceHash(new Uint8Array(64))).toThrow(/9×8/);
  });
});

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

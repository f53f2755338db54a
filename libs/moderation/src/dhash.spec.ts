import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import { moderationDHash } from './dhash.js';
import { ImageBlocklistCheck } from './image-blocklist-check.js';
import { parseBlocklist } from './moderation-config.js';
import { Moderator } from './moderation.js';
import { differenceHash, formatDHash, hammingDistance } from './index.js';

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

describe('moderationDHash (bytes nobody has vetted: a contractor’s result)', () => {
  let dir: string;
  let original: Buffer;
  let copy: Buffer;
  let other: Buffer;

  beforeAll(async () => {
    dir = await fixtures.createTempDir('moderation-dhash');
    const originalPath = await fixtures.patternJpeg(dir, 'a.jpg', 'a');
    original = await readFile(originalPath);
    copy = await readFile(await fixtures.reencodedCopy(dir, originalPath, 'a-copy.jpg'));
    other = await readFile(await fixtures.patternJpeg(dir, 'b.jpg', 'b'));
  });
  afterAll(() => fixtures.removeTempDir(dir));

  it('is stable, close for a re-encoded copy and far for another picture', async () => {
    const [a, again, aCopy, b] = await Promise.all([moderationDHash(original), moderationDHash(original), moderationDHash(copy), moderationDHash(other)]);
    expect(again).toBe(a);
    expect(hammingDistance(a, aCopy)).toBeLessThanOrEqual(4);
    expect(hammingDistance(a, b)).toBeGreaterThan(20);
  });

  it('feeds the block-list: a listed picture is refused in any re-encoding, others pass', async () => {
    const moderator = new Moderator([new ImageBlocklistCheck(parseBlocklist(`0123456789abcdef, ${formatDHash(await moderationDHash(original))}`), 6)]);
    expect(await moderator.image(await moderationDHash(copy))).toEqual({ allowed: false, rule: 'image-blocklist:1' });
    expect(await moderator.image(await moderationDHash(other))).toEqual({ allowed: true });
  });

  it('refuses what is not an image, and an image above the pixel cap, instead of hashing it', async () => {
    await expect(moderationDHash(Buffer.from('not an image at all'))).rejects.toThrow();
    await expect(moderationDHash(original, { maxPixels: 100 })).rejects.toThrow(/pixel/i);
  });
});

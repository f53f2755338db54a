import sharp, { type SharpOptions } from 'sharp';

const MASK_64 = (1n << 64n) - 1n;

/** Number of differing bits between two 64-bit perceptual hashes. */
export function hammingDistance(a: bigint, b: bigint): number {
  let diff = (a ^ b) & MASK_64;
  let count = 0;
  while (diff !== 0n) {
    diff &= diff - 1n;
    count += 1;
  }
  return count;
}

/** A dHash as the 16 lowercase hex digits block-lists and logs use. */
export function formatDHash(hash: bigint): string {
  return (hash & MASK_64).toString(16).padStart(16, '0');
}

/**
 * Difference hash of a 9×8 greyscale image (row-major, one byte per pixel): bit set when a
 * pixel is brighter than its right neighbour, first pixel in the most significant bit.
 */
export function differenceHash(pixels: Uint8Array): bigint {
  if (pixels.length !== 72) throw new Error(`dHash needs 9×8 greyscale pixels, got ${pixels.length} bytes`);
  let hash = 0n;
  for (let row = 0; row < 8; row += 1) {
    for (let column = 0; column < 8; column += 1) {
      const left = pixels[row * 9 + column]!;
      const right = pixels[row * 9 + column + 1]!;
      hash = (hash << 1n) | (left > right ? 1n : 0n);
    }
  }
  return hash;
}

/**
 * dHash of an image file or buffer: upright, transparent pixels as white (so a logo hashes
 * the same on any background), greyscale, squeezed to 9×8. Robust to re-encoding and
 * resizing, which is what a block-list of known images needs.
 */
export async function imageDHash(input: string | Buffer, options: SharpOptions = {}, timeoutSeconds = 30): Promise<bigint> {
  const { data, info } = await sharp(input, options)
    .autoOrient()
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(9, 8, { fit: 'fill' })
    .raw()
    .timeout({ seconds: timeoutSeconds })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`dHash expected 1 channel, got ${info.channels}`);
  return differenceHash(data);
}

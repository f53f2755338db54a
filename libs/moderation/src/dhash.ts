import type { SharpOptions } from 'sharp';
import { imageDHash } from '@homiwork/perceptual-hash';

export interface ImageHashOptions {
  /** Largest width × height decoded; a bigger image is refused before its pixels are. */
  maxPixels?: number;
  timeoutSeconds?: number;
}

/** 40 megapixels, as media accepts: enough for any real photo, far below a decompression bomb. */
const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * The 64-bit dHash a block-list is matched against (`Moderator.image`), of image bytes
 * from anywhere (an upload, a contractor's result): strict on corrupt data, first frame
 * only, pixel count capped — the hash of an image nobody has vetted yet.
 */
export function moderationDHash(input: string | Buffer, options: ImageHashOptions = {}): Promise<bigint> {
  const sharpOptions: SharpOptions = { limitInputPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: 'error', sequentialRead: true, pages: 1, page: 0 };
  return imageDHash(input, sharpOptions, options.timeoutSeconds ?? 30);
}

import { rm } from 'node:fs/promises';
import type { Metadata, SharpOptions } from 'sharp';
import { moderationDHash } from '@homiwork/moderation';
import { REFUSED_FORMATS } from './media-kinds.js';
import { sharp } from './sharp-runtime.js';
import { UploadRejected } from './upload-rejected.js';

export interface ImageTransformerOptions {
  /** Largest accepted width × height of the (first frame of the) input. */
  maxPixels?: number;
  /** Longest side of the output. */
  maxSide?: number;
  /** Wall-clock budget of one transformation, rounded up to whole seconds (libvips' unit). */
  timeoutMs?: number;
}

export interface TransformedImage {
  width: number;
  height: number;
  bytes: number;
  mime: 'image/webp';
}

const DECODABLE = new Set(['jpeg', 'png', 'webp', 'gif', 'heif']);

/**
 * R3.2 / §2.1.2: every uploaded image is re-encoded before any use: orientation applied,
 * first frame only, downscaled to at most `maxSide`, sRGB, WebP — and nothing of the
 * original's metadata (EXIF, GPS, XMP, IPTC, ICC, maker notes, thumbnails) is carried over,
 * which is sharp's behaviour as long as no `keep*`/`with*` metadata call is made.
 */
export class ImageTransformer {
  private readonly maxPixels: number;
  private readonly maxSide: number;
  private readonly timeoutSeconds: number;

  constructor(options: ImageTransformerOptions = {}) {
    this.maxPixels = options.maxPixels ?? 40_000_000;
    this.maxSide = options.maxSide ?? 1536;
    this.timeoutSeconds = Math.max(1, Math.ceil((options.timeoutMs ?? 30_000) / 1000));
  }

  async transform(inputPath: string, outputPath: string): Promise<TransformedImage> {
    await this.checkHeader(inputPath);
    try {
      const info = await sharp(inputPath, this.inputOptions())
        .autoOrient()
        .resize({ width: this.maxSide, height: this.maxSide, fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .webp({ quality: 82 })
        .timeout({ seconds: this.timeoutSeconds })
        .toFile(outputPath);
      return { width: info.width, height: info.height, bytes: info.size, mime: 'image/webp' };
    } catch (error) {
      // A half-written output is not a result; leave nothing for a caller to store by mistake.
      await rm(outputPath, { force: true });
      throw this.rejection(error);
    }
  }

  /** 64-bit difference hash (dHash) of the upright image, for block-list matching. */
  async dHash(input: string | Buffer): Promise<bigint> {
    await this.checkHeader(input);
    try {
      return await moderationDHash(input, { maxPixels: this.maxPixels, timeoutSeconds: this.timeoutSeconds });
    } catch (error) {
      throw this.rejection(error);
    }
  }

  private inputOptions(): SharpOptions {
    // failOn 'error' refuses corrupt and truncated data but tolerates the harmless warnings
    // many phones' JPEGs raise; page 0 only, so an animation is decoded for one frame.
    return { limitInputPixels: this.maxPixels, failOn: 'error', sequentialRead: true, pages: 1, page: 0 };
  }

  /** Reads only the header, so a decompression bomb is refused before any pixel is decoded. */
  private async checkHeader(input: string | Buffer): Promise<Metadata> {
    let metadata: Metadata;
    try {
      metadata = await sharp(input, this.inputOptions()).metadata();
    } catch (error) {
      throw this.rejection(error);
    }
    if (metadata.format === 'heif' && metadata.compression !== 'av1') throw new UploadRejected(415, 'unsupported_type', REFUSED_FORMATS.get('heic')!);
    if (!DECODABLE.has(metadata.format)) throw new UploadRejected(415, 'unsupported_type', 'The image format is not accepted');
    if (metadata.width * (metadata.pageHeight ?? metadata.height) > this.maxPixels) throw this.tooLarge();
    return metadata;
  }

  private tooLarge(): UploadRejected {
    return new UploadRejected(413, 'image_too_large', `The image has too many pixels (at most ${Math.round(this.maxPixels / 1e6)} megapixels are accepted)`);
  }

  private rejection(error: unknown): Error {
    if (error instanceof UploadRejected) return error;
    const message = error instanceof Error ? error.message : String(error);
    // A missing input is the caller's bug, not the user's file: let it surface as such.
    if (message.startsWith('Input file is missing')) return error instanceof Error ? error : new Error(message);
    if (message.includes('exceeds pixel limit')) return this.tooLarge();
    if (/^timeout: /m.test(message)) return new UploadRejected(422, 'processing_timeout', 'The image took too long to process');
    if (message.includes('unsupported image format')) return new UploadRejected(415, 'unsupported_type', 'The image format is not accepted');
    return new UploadRejected(422, 'unreadable_image', 'The image is corrupt or truncated');
  }
}

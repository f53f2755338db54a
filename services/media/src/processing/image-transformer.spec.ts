import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import exifr from 'exifr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import { webpChunks } from '@homiwork/media-fixtures';
import { ImageTransformer } from './image-transformer.js';
import { sharp } from './sharp-runtime.js';
import { UploadRejected } from './upload-rejected.js';

const IMAGE_CHUNKS = new Set(['VP8 ', 'VP8L', 'VP8X', 'ALPH']);

async function rejection(promise: Promise<unknown>): Promise<UploadRejected> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UploadRejected);
  return error as UploadRejected;
}

/** What a metadata reader can find in a WebP: its metadata chunks, parsed by exifr where it can. */
async function metadataIn(webp: Buffer): Promise<{ chunkTypes: string[]; exif: unknown }> {
  const chunks = webpChunks(webp);
  const exifChunk = chunks.find((chunk) => chunk.type === 'EXIF');
  // exifr cannot open WebP, but it reads the TIFF structure an EXIF chunk holds (after the
  // "Exif\0\0" prefix libvips writes there, as in JPEG).
  const tiff = exifChunk?.data.toString('latin1', 0, 6) === 'Exif\0\0' ? exifChunk.data.subarray(6) : exifChunk?.data;
  const exif: unknown = tiff ? await exifr.parse(tiff, { tiff: true, exif: true, gps: true }) : undefined;
  return { chunkTypes: chunks.map((chunk) => chunk.type), exif };
}

describe('ImageTransformer', () => {
  const transformer = new ImageTransformer();
  let dir: string;
  let everything: string;
  let everythingOut: string;
  let result: Awaited<ReturnType<ImageTransformer['transform']>>;

  beforeAll(async () => {
    dir = await fixtures.createTempDir('image');
    everything = await fixtures.jpegWithEverything(dir);
    everythingOut = join(dir, 'everything.webp');
    result = await transformer.transform(everything, everythingOut);
  });
  afterAll(() => fixtures.removeTempDir(dir));

  describe('a 4000×3000 photo with orientation 6 and all the metadata a camera writes', () => {
    it('comes out upright: portrait, its longest side 1536, the stored top-left corner at the top-right', async () => {
      expect(result).toMatchObject({ width: 1152, height: 1536, mime: 'image/webp' });
      const meta = await sharp(everythingOut).metadata();
      expect({ format: meta.format, width: meta.width, height: meta.height, orientation: meta.orientation }).toEqual({ format: 'webp', width: 1152, height: 1536, orientation: undefined });
      const [topRight, topLeft] = await Promise.all([
        sharp(everythingOut).extract({ left: 1140, top: 10, width: 1, height: 1 }).raw().toBuffer(),
        sharp(everythingOut).extract({ left: 10, top: 10, width: 1, height: 1 }).raw().toBuffer(),
      ]);
      expect(topRight[0]).toBeGreaterThan(200);
      expect(topRight[2]).toBeLessThan(60);
      expect(topLeft[0]).toBeLessThan(100);
    });

    it('is re-encoded: different bytes, a WebP, and the reported size is the file size', async () => {
      const [input, output] = await Promise.all([readFile(everything), readFile(everythingOut)]);
      expect(output.equals(input)).toBe(false);
      expect(output.toString('latin1', 8, 12)).toBe('WEBP');
      expect(result.bytes).toBe(output.length);
    });

    it('keeps no EXIF, GPS, XMP, IPTC or ICC: not for sharp, not for exifr, not as a WebP chunk', async () => {
      const meta = await sharp(everythingOut).metadata();
      expect({ exif: meta.exif, xmp: meta.xmp, iptc: meta.iptc, icc: meta.icc, hasProfile: meta.hasProfile }).toEqual({ exif: undefined, xmp: undefined, iptc: undefined, icc: undefined, hasProfile: false });
      const found = await metadataIn(await readFile(everythingOut));
      expect(found.chunkTypes.every((type) => IMAGE_CHUNKS.has(type))).toBe(true);
      expect(found.exif).toBeUndefined();
      const bytes = await readFile(everythingOut);
      for (const planted of [fixtures.PLANTED.make, fixtures.PLANTED.model, fixtures.PLANTED.xmpCreator, fixtures.PLANTED.iptcByline, fixtures.PLANTED.iptcCity, 'Exif', 'xmpmeta', 'Photoshop']) {
        expect(bytes.includes(Buffer.from(planted))).toBe(false);
      }
    });

    it('the metadata check itself finds metadata when it is there (a WebP written with keepMetadata)', async () => {
      const kept = await sharp(everything).keepMetadata().resize(200).webp().toBuffer();
      const found = await metadataIn(kept);
      expect(found.chunkTypes).toEqual(expect.arrayContaining(['EXIF', 'XMP ', 'ICCP']));
      expect(found.exif).toMatchObject({ Make: fixtures.PLANTED.make });
    });
  });

  it('drops PNG text chunks', async () => {
    const output = join(dir, 'text-chunks.webp');
    await transformer.transform(await fixtures.pngWithTextChunks(dir), output);
    const bytes = await readFile(output);
    for (const planted of [fixtures.PLANTED.pngAuthor, fixtures.PLANTED.pngComment, fixtures.PLANTED.pngGps, 'tEXt', 'iTXt', 'Author']) {
      expect(bytes.includes(Buffer.from(planted))).toBe(false);
    }
    expect((await sharp(output).metadata()).comments).toBeUndefined();
  });

  it("leaves nothing of a polyglot's appended ZIP", async () => {
    const output = join(dir, 'polyglot.webp');
    await transformer.transform(await fixtures.jpegZipPolyglot(dir), output);
    const bytes = await readFile(output);
    expect(bytes.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(false);
    expect(bytes.includes(Buffer.from('script'))).toBe(false);
  });

  it.each([
    ['GIF', fixtures.animatedGif],
    ['WebP', fixtures.animatedWebp],
  ])('keeps only the first frame of an animated %s', async (name, make) => {
    const output = join(dir, `animated-${name}.webp`);
    const animation = await make(dir);
    expect((await sharp(animation).metadata()).pages).toBe(2);
    expect(await transformer.transform(animation, output)).toMatchObject({ width: 80, height: 60 });
    const meta = await sharp(output).metadata();
    expect(meta.pages ?? 1).toBe(1);
    const [red, , blue] = await sharp(output).extract({ left: 40, top: 30, width: 1, height: 1 }).raw().toBuffer();
    expect(red).toBeGreaterThan(200);
    expect(blue).toBeLessThan(60);
  });

  it.each([
    ['AVIF', fixtures.avifImage],
    ['WebP with alpha', fixtures.webpImage],
  ])('transforms %s without enlarging it', async (_name, make) => {
    const output = join(dir, `${_name}.webp`);
    expect(await transformer.transform(await make(dir), output)).toMatchObject({ width: 64, height: 48, mime: 'image/webp' });
  });

  it('refuses a decompression bomb from its header: 413 quickly, without the memory its pixels would take', async () => {
    const bomb = await fixtures.pngBomb(dir);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const error = await rejection(transformer.transform(bomb, join(dir, 'bomb.webp')));
    const elapsed = performance.now() - started;
    const grown = process.memoryUsage().rss - before;
    expect({ status: error.status, code: error.code }).toEqual({ status: 413, code: 'image_too_large' });
    expect(elapsed).toBeLessThan(1000);
    expect(grown).toBeLessThan(100 * 1024 * 1024);
    await expect(transformer.dHash(bomb)).rejects.toMatchObject({ status: 413, code: 'image_too_large' });
  });

  it('applies its own pixel limit', async () => {
    const strict = new ImageTransformer({ maxPixels: 1000 });
    await expect(strict.transform(await fixtures.smallJpeg(dir), join(dir, 'strict.webp'))).rejects.toMatchObject({ status: 413, code: 'image_too_large' });
  });

  it('respects a smaller maxSide', async () => {
    const small = new ImageTransformer({ maxSide: 100 });
    expect(await small.transform(await fixtures.patternJpeg(dir, 'side.jpg', 'a'), join(dir, 'side.webp'))).toMatchObject({ width: 100, height: 75 });
  });

  it('refuses a truncated JPEG with 422 unreadable_image', async () => {
    const output = join(dir, 'truncated.webp');
    const error = await rejection(transformer.transform(await fixtures.truncatedJpeg(dir), output));
    expect({ status: error.status, code: error.code }).toEqual({ status: 422, code: 'unreadable_image' });
    await expect(readFile(output)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses bytes that are no image it decodes (SVG, random) whatever the caller thought', async () => {
    await expect(transformer.transform(await fixtures.svgFile(dir), join(dir, 'svg.webp'))).rejects.toMatchObject({ status: 415, code: 'unsupported_type' });
    await expect(transformer.transform(await fixtures.garbageMedia(dir), join(dir, 'garbage.webp'))).rejects.toBeInstanceOf(UploadRejected);
  });

  it('lets a missing input surface as a plain error, not as a user-facing refusal', async () => {
    const error: unknown = await transformer.transform(join(dir, 'does-not-exist.jpg'), join(dir, 'x.webp')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UploadRejected);
  });

  it('keeps no image data in the libvips cache after a transformation', () => {
    const cache = sharp.cache();
    expect({ memory: cache.memory.current, items: cache.items.current }).toEqual({ memory: 0, items: 0 });
  });
});

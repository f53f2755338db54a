import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { PNG_SIGNATURE, iTXt, insertAfterIhdr, insertJpegSegment, jpegIptcSegment, pngChunk, tEXt, u32be, zipArchive } from './binary-builders.js';

/** Values planted in the fixtures; tests look for them in the outputs. */
export const PLANTED = {
  make: 'HomiworkTestCam',
  model: 'Model-7 Secret',
  dateTimeOriginal: '2021:06:15 10:11:12',
  latitude: 48.8584,
  longitude: 2.2945,
  xmpCreator: 'Jane Xmp-Creator',
  iptcByline: 'Jane Iptc-Byline',
  iptcCity: 'Iptc-City-Paris',
  pngAuthor: 'Jane Png-Author',
  pngComment: 'contact jane.doe@example.com',
  pngGps: 'GPS 48.858400N 2.294500E',
} as const;

const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>${PLANTED.xmpCreator}</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>`;

/** EXIF rational degrees/minutes/seconds, e.g. 48.8584 → "48/1 51/1 3024/100". */
function dms(value: number): string {
  const degrees = Math.floor(value);
  const minutes = Math.floor((value - degrees) * 60);
  const seconds = Math.round(((value - degrees) * 60 - minutes) * 60 * 100);
  return `${degrees}/1 ${minutes}/1 ${seconds}/100`;
}

/**
 * A 4000×3000 landscape JPEG stored with orientation 6 (display: rotate 90° clockwise, so
 * it is seen as 3000×4000 portrait), carrying EXIF (Make/Model/DateTimeOriginal), GPS, XMP,
 * IPTC and a Display P3 ICC profile. A red block marks the stored top-left corner, which
 * an upright rendering shows at the top-right.
 */
export async function jpegWithEverything(dir: string): Promise<string> {
  const path = join(dir, 'everything.jpg');
  const pixels = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 40, g: 110, b: 190 } } })
    .composite([{ input: { create: { width: 500, height: 400, channels: 3, background: { r: 255, g: 0, b: 0 } } }, left: 0, top: 0 }])
    .png({ compressionLevel: 0 })
    .toBuffer();
  const jpeg = await sharp(pixels)
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: PLANTED.make, Model: PLANTED.model },
      IFD2: { DateTimeOriginal: PLANTED.dateTimeOriginal },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: dms(PLANTED.latitude), GPSLongitudeRef: 'E', GPSLongitude: dms(PLANTED.longitude) },
    })
    .withXmp(XMP)
    // After withMetadata, which would otherwise attach sRGB.
    .withIccProfile('p3')
    .jpeg({ quality: 80 })
    .toBuffer();
  const iptc = jpegIptcSegment([
    { tag: 80, value: PLANTED.iptcByline },
    { tag: 90, value: PLANTED.iptcCity },
  ]);
  await writeFile(path, insertJpegSegment(jpeg, iptc));
  return path;
}

/** A 320×240 PNG with tEXt and iTXt chunks naming a person, an email and a position. */
export async function pngWithTextChunks(dir: string): Promise<string> {
  const path = join(dir, 'text-chunks.png');
  const png = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 250, g: 200, b: 30 } } }).png().toBuffer();
  const chunks = [tEXt('Author', PLANTED.pngAuthor), tEXt('Comment', PLANTED.pngComment), iTXt('Description', PLANTED.pngGps)];
  await writeFile(path, insertAfterIhdr(png, chunks));
  return path;
}

/** A 1 KB PNG whose header declares 50,000 × 50,000 RGB pixels (7.5 GB decoded). */
export async function pngBomb(dir: string): Promise<string> {
  const path = join(dir, 'bomb.png');
  const ihdr = Buffer.concat([u32be(50_000), u32be(50_000), Buffer.from([8, 2, 0, 0, 0])]);
  const idat = deflateSync(Buffer.alloc(4096));
  await writeFile(path, Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]));
  return path;
}

/**
 * A deterministic "photo": smooth gradients, a disc and bars, different per `variant`,
 * so perceptual hashes have structure to work on.
 */
export async function patternJpeg(dir: string, name: string, variant: 'a' | 'b', size = { width: 640, height: 480 }): Promise<string> {
  const { width, height } = size;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const u = x / width;
      const v = y / height;
      const inDisc = (u - 0.35) ** 2 + (v - 0.5) ** 2 < 0.04;
      const offset = (y * width + x) * 3;
      if (variant === 'a') {
        pixels[offset] = inDisc ? 240 : Math.round(255 * u);
        pixels[offset + 1] = inDisc ? 240 : Math.round(180 * v);
        pixels[offset + 2] = Math.round(100 + 100 * Math.sin(u * 9));
      } else {
        const bar = Math.floor(v * 6) % 2 === 0;
        pixels[offset] = bar ? Math.round(255 * (1 - u)) : 30;
        pixels[offset + 1] = Math.round(255 * Math.abs(Math.cos(u * 7 + v * 3)));
        pixels[offset + 2] = inDisc ? 20 : Math.round(255 * v);
      }
    }
  }
  const path = join(dir, name);
  await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(path);
  return path;
}

/** The same picture re-encoded as a platform would: resized to 75 % and saved at quality 55. */
export async function reencodedCopy(dir: string, source: string, name: string): Promise<string> {
  const path = join(dir, name);
  const { width } = await sharp(source).metadata();
  await sharp(source).resize({ width: Math.round(width * 0.75) }).jpeg({ quality: 55 }).toFile(path);
  return path;
}

/** A small, plain JPEG for sniffing and polyglots. */
export async function smallJpeg(dir: string, name = 'small.jpg'): Promise<string> {
  const path = join(dir, name);
  await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 10, g: 160, b: 90 } } }).jpeg().toFile(path);
  return path;
}

/** The first half of a real JPEG: the header reads fine, the scan data ends abruptly. */
export async function truncatedJpeg(dir: string): Promise<string> {
  const source = await patternJpeg(dir, 'to-truncate.jpg', 'a');
  const bytes = await readFile(source);
  const path = join(dir, 'truncated.jpg');
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
  return path;
}

/** A JPEG with a ZIP appended, both valid: image viewers show the picture, unzip lists the file. */
export async function jpegZipPolyglot(dir: string): Promise<string> {
  const jpeg = await readFile(await smallJpeg(dir, 'polyglot-base.jpg'));
  const zip = zipArchive([{ name: 'payload.html', content: Buffer.from('<script>alert(1)</script>') }], jpeg.length);
  const path = join(dir, 'polyglot.jpg');
  await writeFile(path, Buffer.concat([jpeg, zip]));
  return path;
}

/** A two-frame animation: red first frame, blue second. */
async function twoFrames(dir: string, format: 'gif' | 'webp'): Promise<string> {
  const frame = (r: number, b: number) => sharp({ create: { width: 80, height: 60, channels: 3, background: { r, g: 0, b } } }).png().toBuffer();
  const path = join(dir, `animated.${format}`);
  await sharp([await frame(255, 0), await frame(0, 255)], { join: { animated: true } }).toFormat(format).toFile(path);
  return path;
}

export function animatedGif(dir: string): Promise<string> {
  return twoFrames(dir, 'gif');
}

export function animatedWebp(dir: string): Promise<string> {
  return twoFrames(dir, 'webp');
}

export async function avifImage(dir: string): Promise<string> {
  const path = join(dir, 'image.avif');
  await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 120, g: 30, b: 200 } } }).avif({ effort: 0 }).toFile(path);
  return path;
}

export async function webpImage(dir: string): Promise<string> {
  const path = join(dir, 'image.webp');
  await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).webp().toFile(path);
  return path;
}

/** The first bytes of an iPhone HEIC (an `ftyp` box with the `heic` brand); enough for sniffing. */
export async function heicHeader(dir: string): Promise<string> {
  const ftyp = Buffer.concat([u32be(24), Buffer.from('ftypheic', 'latin1'), u32be(0), Buffer.from('mif1heic', 'latin1')]);
  const path = join(dir, 'photo.heic');
  await writeFile(path, Buffer.concat([ftyp, Buffer.alloc(200)]));
  return path;
}

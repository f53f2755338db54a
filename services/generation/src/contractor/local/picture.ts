import sharp, { type OutputInfo, type OverlayOptions } from 'sharp';
import { ContractorError, type ContractorInput } from '../contractor.js';
import type { SeededRandom } from './seed.js';

export const PICTURE_SIZE = 512;

// No libvips operation cache: a pipeline runs once, and a cache would keep the pixels of a
// user's input image in memory after the job (media's setting, for the same reason).
sharp.cache(false);

type Rgb = readonly [number, number, number];

function hsl(hue: number, saturation: number, lightness: number): Rgb {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const h = (((hue % 360) + 360) % 360) / 60;
  const x = chroma * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [chroma, x, 0] : h < 2 ? [x, chroma, 0] : h < 3 ? [0, chroma, x] : h < 4 ? [0, x, chroma] : h < 5 ? [x, 0, chroma] : [chroma, 0, x];
  const m = lightness - chroma / 2;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/**
 * An RGB canvas with anti-aliased shapes, drawn in JavaScript rather than as SVG: sharp
 * would need its SVG loader (librsvg) for that, and a service that decodes other
 * people's bytes keeps every loader but the raster ones blocked (see media's sharp
 * runtime). Raw pixels go into sharp without any loader.
 */
class Canvas {
  readonly pixels: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = Buffer.alloc(width * height * 3);
  }

  linearGradient(from: Rgb, to: Rgb, angle: number): void {
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    const span = Math.abs(dx) * this.width + Math.abs(dy) * this.height;
    const origin = Math.min(0, dx * this.width) + Math.min(0, dy * this.height);
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const t = (x * dx + y * dy - origin) / span;
        const offset = (y * this.width + x) * 3;
        for (let channel = 0; channel < 3; channel++) this.pixels[offset + channel] = Math.round(from[channel]! + (to[channel]! - from[channel]!) * t);
      }
    }
  }

  /** A disc (`thickness` undefined) or a ring, edges anti-aliased by their pixel coverage. */
  circle(cx: number, cy: number, radius: number, colour: Rgb, alpha: number, thickness?: number): void {
    this.paint(cx - radius - 1, cy - radius - 1, cx + radius + 1, cy + radius + 1, colour, alpha, (px, py) => {
      const distance = Math.hypot(px - cx, py - cy);
      return thickness === undefined ? clamp01(radius - distance + 0.5) : clamp01(thickness / 2 - Math.abs(distance - radius) + 0.5);
    });
  }

  rect(left: number, top: number, width: number, height: number, colour: Rgb, alpha: number): void {
    this.paint(left, top, left + width, top + height, colour, alpha, (px, py) => {
      const coverX = clamp01(Math.min(px + 0.5, left + width) - Math.max(px - 0.5, left));
      const coverY = clamp01(Math.min(py + 0.5, top + height) - Math.max(py - 0.5, top));
      return coverX * coverY;
    });
  }

  /** Blends `colour` over the pixels of a bounding box, by `alpha` × the shape's coverage of each pixel (sampled at its centre). */
  private paint(x0: number, y0: number, x1: number, y1: number, colour: Rgb, alpha: number, coverage: (px: number, py: number) => number): void {
    const left = Math.max(0, Math.floor(x0));
    const top = Math.max(0, Math.floor(y0));
    const right = Math.min(this.width - 1, Math.ceil(x1));
    const bottom = Math.min(this.height - 1, Math.ceil(y1));
    for (let y = top; y <= bottom; y++) {
      for (let x = left; x <= right; x++) {
        const weight = alpha * coverage(x + 0.5, y + 0.5);
        if (weight <= 0) continue;
        const offset = (y * this.width + x) * 3;
        for (let channel = 0; channel < 3; channel++) {
          this.pixels[offset + channel] = Math.round(this.pixels[offset + channel]! * (1 - weight) + colour[channel]! * weight);
        }
      }
    }
  }
}

/** A seeded abstract picture: a gradient ground, then discs, rings and bars in a palette around one hue. */
export function drawPicture(random: SeededRandom, size = PICTURE_SIZE): Canvas {
  const canvas = new Canvas(size, size);
  const hue = random.between(0, 360);
  const harmony = random.pick([30, 120, 150, 180]);
  const palette: Rgb[] = [
    hsl(hue, random.between(0.5, 0.9), random.between(0.45, 0.65)),
    hsl(hue + harmony, random.between(0.5, 0.9), random.between(0.5, 0.7)),
    hsl(hue - harmony, random.between(0.4, 0.8), random.between(0.35, 0.6)),
    hsl(hue + 180, random.between(0.3, 0.7), random.between(0.7, 0.9)),
  ];
  canvas.linearGradient(hsl(hue, random.between(0.3, 0.6), random.between(0.12, 0.25)), hsl(hue + harmony / 2, random.between(0.3, 0.7), random.between(0.55, 0.8)), random.between(0, Math.PI * 2));
  const shapes = random.int(6, 11);
  for (let index = 0; index < shapes; index++) {
    const colour = random.pick(palette);
    const alpha = random.between(0.45, 0.9);
    const x = random.between(0, size);
    const y = random.between(0, size);
    switch (random.pick(['disc', 'disc', 'ring', 'bar'] as const)) {
      case 'disc':
        canvas.circle(x, y, random.between(size * 0.04, size * 0.22), colour, alpha);
        break;
      case 'ring':
        canvas.circle(x, y, random.between(size * 0.08, size * 0.3), colour, alpha, random.between(3, size * 0.04));
        break;
      case 'bar':
        if (random.chance(0.5)) canvas.rect(0, y, size, random.between(size * 0.01, size * 0.06), colour, alpha * 0.7);
        else canvas.rect(x, 0, random.between(size * 0.01, size * 0.06), size, colour, alpha * 0.7);
        break;
    }
  }
  return canvas;
}

// Media stores WebP; PNG and JPEG are accepted too. Anything else never reaches a decoder.
function isDecodableImage(data: Buffer): boolean {
  const webp = data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP';
  const png = data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const jpeg = data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
  return webp || png || jpeg;
}

/** libvips' own deadline (`.timeout()`) reports itself as `timeout: N% complete`. */
function isSharpTimeout(error: unknown): boolean {
  return error instanceof Error && /^timeout: /m.test(error.message);
}

const MAX_INPUT_PIXELS = 40_000_000;
const MAX_PICTURE_INPUTS = 4;
const FRAME = 6;

/** Where the input images go: one large in the middle, or up to four in a grid. */
function cells(count: number, size: number): Array<{ left: number; top: number; side: number }> {
  if (count === 1) {
    const side = Math.round(size * 0.62);
    return [{ left: Math.round((size - side) / 2), top: Math.round((size - side) / 2), side }];
  }
  const gap = Math.round(size * 0.06);
  const side = Math.floor((size - 3 * gap) / 2);
  return Array.from({ length: count }, (_, index) => ({ left: gap + (index % 2) * (side + gap), top: gap + Math.floor(index / 2) * (side + gap), side }));
}

async function inputLayers(inputs: readonly ContractorInput[], random: SeededRandom, size: number, timeoutSeconds: number): Promise<OverlayOptions[]> {
  const images = inputs.filter((input) => input.mimeType.startsWith('image/')).slice(0, MAX_PICTURE_INPUTS);
  const frame = hsl(random.between(0, 360), 0.2, 0.95);
  const layers: OverlayOptions[] = [];
  for (const [index, cell] of cells(images.length, size).entries()) {
    const image = images[index]!;
    if (!isDecodableImage(image.data)) throw new ContractorError('contractor_rejected', 'An input image is not in a supported format (WebP, PNG or JPEG)');
    const inner = cell.side - 2 * FRAME;
    try {
      const { data, info } = await sharp(image.data, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', pages: 1 })
        .resize(inner, inner, { fit: 'cover' })
        .flatten({ background: { r: frame[0], g: frame[1], b: frame[2] } })
        .toColourspace('srgb')
        .extend({ top: FRAME, bottom: FRAME, left: FRAME, right: FRAME, background: { r: frame[0], g: frame[1], b: frame[2] } })
        .raw()
        .timeout({ seconds: timeoutSeconds })
        .toBuffer({ resolveWithObject: true });
      layers.push({ input: data, raw: { width: info.width, height: info.height, channels: info.channels }, left: cell.left, top: cell.top });
    } catch (error) {
      if (isSharpTimeout(error)) throw new ContractorError('contractor_timeout', 'The local contractor ran out of time decoding an input image');
      throw new ContractorError('contractor_rejected', 'An input image could not be decoded');
    }
  }
  return layers;
}

/**
 * The picture as PNG, with the request's images (if any) framed into it. sharp writes no
 * metadata unless asked to (`keepMetadata`/`withMetadata`), and nothing of an input's
 * EXIF/XMP/ICC can pass through raw pixels anyway.
 */
export async function renderPicture(inputs: readonly ContractorInput[], random: SeededRandom, timeoutMs: number): Promise<Buffer> {
  const timeoutSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const canvas = drawPicture(random);
  const layers = await inputLayers(inputs, random, canvas.width, timeoutSeconds);
  let rendered: { data: Buffer; info: OutputInfo };
  try {
    rendered = await sharp(canvas.pixels, { raw: { width: canvas.width, height: canvas.height, channels: 3 } })
      .composite(layers)
      // Compositing adds an alpha channel; the picture is opaque, and RGB is a smaller PNG.
      .removeAlpha()
      .png({ compressionLevel: 6 })
      .timeout({ seconds: timeoutSeconds })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    if (isSharpTimeout(error)) throw new ContractorError('contractor_timeout', 'The local contractor ran out of time rendering the image');
    throw new ContractorError('contractor_unavailable', 'The local contractor could not render the image');
  }
  const { data, info } = rendered;
  if (info.format !== 'png' || info.width !== canvas.width || info.height !== canvas.height || info.channels !== 3) throw new ContractorError('invalid_result', 'The rendered image is not the announced PNG');
  return data;
}

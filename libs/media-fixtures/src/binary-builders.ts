import { crc32 } from 'node:zlib';

/** Small writers for the container structures the fixtures forge by hand. */

export function u16be(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

export function u32be(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function u16le(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}

function u32le(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC over type and data. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([u32be(data.length), typeAndData, u32be(crc32(typeAndData))]);
}

export function tEXt(keyword: string, text: string): Buffer {
  return pngChunk('tEXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]));
}

/** Uncompressed iTXt: keyword, NUL, compression flag 0, method 0, empty language and translated keyword. */
export function iTXt(keyword: string, text: string): Buffer {
  return pngChunk('iTXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]));
}

/** Inserts chunks right after IHDR (signature 8 bytes + IHDR chunk 25 bytes). */
export function insertAfterIhdr(png: Buffer, chunks: Buffer[]): Buffer {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG starting with IHDR');
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

/** A Photoshop APP13 segment holding IPTC-IIM datasets (record 2), as cameras' software writes it. */
export function jpegIptcSegment(datasets: Array<{ tag: number; value: string }>): Buffer {
  const iim = Buffer.concat(datasets.map(({ tag, value }) => {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([Buffer.from([0x1c, 0x02, tag]), u16be(bytes.length), bytes]);
  }));
  const padded = iim.length % 2 === 0 ? iim : Buffer.concat([iim, Buffer.from([0])]);
  const resource = Buffer.concat([Buffer.from('8BIM', 'latin1'), u16be(0x0404), Buffer.from([0, 0]), u32be(iim.length), padded]);
  const payload = Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), resource]);
  return Buffer.concat([Buffer.from([0xff, 0xed]), u16be(payload.length + 2), payload]);
}

/** Inserts a segment after the leading APPn segments of a JPEG (before the tables). */
export function insertJpegSegment(jpeg: Buffer, segment: Buffer): Buffer {
  let offset = 2;
  while (jpeg[offset] === 0xff && jpeg[offset + 1]! >= 0xe0 && jpeg[offset + 1]! <= 0xef) {
    offset += 2 + jpeg.readUInt16BE(offset + 2);
  }
  return Buffer.concat([jpeg.subarray(0, offset), segment, jpeg.subarray(offset)]);
}

/**
 * A stored (uncompressed) ZIP. `baseOffset` is where the archive will start inside a larger
 * file, so a ZIP appended to a JPEG is still a valid archive for unzip.
 */
export function zipArchive(entries: Array<{ name: string; content: Buffer }>, baseOffset = 0): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, content } of entries) {
    const fileName = Buffer.from(name, 'utf8');
    const crc = crc32(content);
    const common = Buffer.concat([u16le(20), u16le(0), u16le(0), u16le(0), u16le(0x21), u32le(crc), u32le(content.length), u32le(content.length), u16le(fileName.length), u16le(0)]);
    const local = Buffer.concat([u32le(0x04034b50), common, fileName, content]);
    centrals.push(Buffer.concat([u32le(0x02014b50), u16le(20), common, u16le(0), u16le(0), u16le(0), u32le(0), u32le(baseOffset + offset), fileName]));
    locals.push(local);
    offset += local.length;
  }
  const central = Buffer.concat(centrals);
  const end = Buffer.concat([u32le(0x06054b50), u16le(0), u16le(0), u16le(entries.length), u16le(entries.length), u32le(central.length), u32le(baseOffset + offset), u16le(0)]);
  return Buffer.concat([...locals, central, end]);
}

/** Deterministic pseudo-random bytes (xorshift32), so "garbage" is the same on every run. */
export function pseudoRandomBytes(length: number, seed = 0x2545f491): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index += 1) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

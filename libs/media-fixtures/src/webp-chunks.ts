export interface RiffChunk {
  type: string;
  data: Buffer;
}

/**
 * The chunks of a WebP file (RIFF container). Metadata lives in its own chunks — EXIF,
 * XMP, ICCP — which is what lets a test prove their absence directly (exifr cannot read WebP).
 */
export function webpChunks(file: Buffer): RiffChunk[] {
  if (file.toString('latin1', 0, 4) !== 'RIFF' || file.toString('latin1', 8, 12) !== 'WEBP') throw new Error('not a WebP file');
  const chunks: RiffChunk[] = [];
  let offset = 12;
  while (offset + 8 <= file.length) {
    const type = file.toString('latin1', offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    chunks.push({ type, data: file.subarray(offset + 8, offset + 8 + size) });
    offset += 8 + size + (size % 2);
  }
  return chunks;
}

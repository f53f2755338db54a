import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UploadRejected } from '../../processing/index.js';

/** Streams the body to a file, refusing it (413) as soon as it passes `maxBytes`. */
export async function writeLimited(body: Readable, path: string, maxBytes: number): Promise<number> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(new UploadRejected(413, 'file_too_large', `the file is larger than the ${Math.round(maxBytes / 1024 / 1024)} MB limit`));
      else callback(null, chunk);
    },
  });
  await pipeline(body, counter, createWriteStream(path, { mode: 0o600 }));
  return bytes;
}

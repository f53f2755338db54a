import { createCipheriv, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Injectable } from '@nestjs/common';
import { EXPORT_FORMAT_VERSION } from '@homiwork/contracts';
import { ObjectStore } from '@homiwork/storage';
import tar from 'tar-stream';
import { archiveObjectName, filePath, serviceDocumentPath, type ExportManifest, type ServiceDocument } from '../../domain/archive-format.js';
import type { CollectedSlice } from './slice-collector.js';

/** One file of a slice may take this long to fetch (a signed URL of the owning service). */
const FILE_FETCH_TIMEOUT_MS = 5 * 60_000;

export interface WrittenArchive {
  objectKey: string;
  /** Ciphertext bytes (AES-GCM adds none: equal to the tar's). */
  bytes: number;
  /** The one-off AES-256 key; the caller seals it and zeroes this buffer. */
  key: Buffer;
  iv: Buffer;
  tag: Buffer;
}

/**
 * Writes one tar (docs/privacy-export-format.md) — `manifest.json`, then
 * `services/<service>.json` per service, then each file under `files/<service>/` fetched
 * from its signed URL and streamed — encrypted while streaming with AES-256-GCM under a
 * fresh random key, straight into the object store at `retention/<userId>/exports/<exportId>/<attempt>`.
 * Nothing of the archive is ever on disk or whole in memory. A file whose length differs
 * from what its service declared fails the archive (never a silently short copy).
 */
@Injectable()
export class ArchiveWriter {
  constructor(private readonly store: ObjectStore) {}

  async write(exportId: string, attempt: number, userId: string, slices: CollectedSlice[], exportedAt: Date): Promise<WrittenArchive> {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const pack = tar.pack();
    const body = new PassThrough();
    const piping = pipeline(pack, cipher, body);
    const putting = this.store.put(userId, archiveObjectName(exportId, attempt), body, { contentType: 'application/octet-stream' });
    // The store failing stops the writing at once (it would otherwise wait on back-pressure forever).
    const storeFailed = new Promise<never>((_, reject) => {
      putting.catch(reject);
    });
    try {
      await Promise.race([this.entries(pack, exportId, userId, slices, exportedAt), storeFailed]);
      pack.finalize();
      await Promise.race([piping, storeFailed]);
      const { key: objectKey, bytes } = await putting;
      return { objectKey, bytes, key, iv, tag: cipher.getAuthTag() };
    } catch (error) {
      key.fill(0);
      pack.destroy(error as Error);
      await Promise.allSettled([piping, putting]);
      throw error;
    }
  }

  private async entries(pack: tar.Pack, exportId: string, userId: string, slices: CollectedSlice[], exportedAt: Date): Promise<void> {
    const mtime = exportedAt;
    const manifest: ExportManifest = {
      formatVersion: EXPORT_FORMAT_VERSION,
      exportId,
      userId,
      exportedAt: exportedAt.toISOString(),
      services: slices.map((slice) => ({
        service: slice.service,
        document: serviceDocumentPath(slice.service),
        collections: Object.fromEntries(Object.entries(slice.collections).map(([name, records]) => [name, records.length])),
        files: slice.files.length,
      })),
      files: slices.flatMap((slice) => slice.files.map((file) => ({ path: filePath(slice.service, file.path), service: slice.service, mimeType: file.mimeType, bytes: file.bytes }))),
    };
    await addBuffer(pack, 'manifest.json', json(manifest), mtime);
    for (const slice of slices) {
      const document: ServiceDocument = { service: slice.service, formatVersion: EXPORT_FORMAT_VERSION, collections: slice.collections };
      await addBuffer(pack, serviceDocumentPath(slice.service), json(document), mtime);
    }
    for (const slice of slices) {
      for (const file of slice.files) await addFile(pack, filePath(slice.service, file.path), file.url, file.bytes, mtime);
    }
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

function addBuffer(pack: tar.Pack, name: string, content: Buffer, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: content.length, mode: 0o644, mtime }, content, (error) => (error ? reject(error) : resolve()));
  });
}

async function addFile(pack: tar.Pack, name: string, url: string, size: number, mtime: Date): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(FILE_FETCH_TIMEOUT_MS) });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`an export file could not be fetched (status ${response.status})`);
  }
  const source = Readable.fromWeb(response.body as never);
  let finished!: Promise<void>;
  // tar-stream's entries are streamx writables: written by hand, with their own back-pressure.
  const entry = (() => {
    let made!: ReturnType<tar.Pack['entry']>;
    finished = new Promise<void>((resolve, reject) => {
      made = pack.entry({ name, size, mode: 0o644, mtime }, (error) => (error ? reject(error) : resolve()));
    });
    return made;
  })();
  let seen = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > size) throw new Error('an export file is longer than its service declared');
      if (!entry.write(chunk)) await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
    }
    if (seen !== size) throw new Error('an export file is shorter than its service declared');
  } catch (error) {
    source.destroy();
    entry.destroy(error as Error);
    finished.catch(() => undefined);
    throw error;
  }
  entry.end(() => undefined);
  await finished;
}

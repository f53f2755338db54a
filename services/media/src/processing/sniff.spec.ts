import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import { MEDIA_LIMITS } from './media-kinds.js';
import { sniffUpload } from './sniff.js';
import { UploadRejected } from './upload-rejected.js';

async function rejection(promise: Promise<unknown>): Promise<UploadRejected> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UploadRejected);
  return error as UploadRejected;
}

describe('sniffUpload', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fixtures.createTempDir('sniff');
  });
  afterAll(() => fixtures.removeTempDir(dir));

  describe('decides the kind from the bytes', () => {
    it.each([
      ['JPEG', () => fixtures.smallJpeg(dir), { kind: 'image', format: 'jpeg', mime: 'image/jpeg' }],
      ['PNG', () => fixtures.pngWithTextChunks(dir), { kind: 'image', format: 'png', mime: 'image/png' }],
      ['WebP', () => fixtures.webpImage(dir), { kind: 'image', format: 'webp', mime: 'image/webp' }],
      ['GIF', () => fixtures.animatedGif(dir), { kind: 'image', format: 'gif', mime: 'image/gif' }],
      ['AVIF', () => fixtures.avifImage(dir), { kind: 'image', format: 'avif', mime: 'image/avif' }],
      ['JPEG+ZIP polyglot', () => fixtures.jpegZipPolyglot(dir), { kind: 'image', format: 'jpeg', mime: 'image/jpeg' }],
      ['MP3', () => fixtures.mp3WithTags(dir), { kind: 'audio', format: 'mp3', mime: 'audio/mpeg' }],
      ['WAV', () => fixtures.tinyAudio(dir, 'wav'), { kind: 'audio', format: 'wav', mime: 'audio/wav' }],
      ['Ogg Opus', () => fixtures.tinyAudio(dir, 'opus'), { kind: 'audio', format: 'opus', mime: 'audio/ogg' }],
      ['Ogg Vorbis', () => fixtures.tinyAudio(dir, 'ogg'), { kind: 'audio', format: 'ogg', mime: 'audio/ogg' }],
      ['FLAC', () => fixtures.tinyAudio(dir, 'flac'), { kind: 'audio', format: 'flac', mime: 'audio/flac' }],
      ['M4A', () => fixtures.tinyAudio(dir, 'm4a'), { kind: 'audio', format: 'm4a', mime: 'audio/mp4' }],
      ['ADTS AAC', () => fixtures.tinyAudio(dir, 'aac'), { kind: 'audio', format: 'aac', mime: 'audio/aac' }],
      ['MP4', () => fixtures.mp4WithTags(dir), { kind: 'video', format: 'mp4', mime: 'video/mp4' }],
      ['MOV', () => fixtures.tinyVideo(dir, 'mov'), { kind: 'video', format: 'mov', mime: 'video/quicktime' }],
      ['WebM', () => fixtures.tinyVideo(dir, 'webm'), { kind: 'video', format: 'webm', mime: 'video/webm' }],
      ['UTF-8 text', () => fixtures.utf8Text(dir), { kind: 'text', format: 'text', mime: 'text/plain' }],
    ])('%s', async (_name, make, expected) => {
      expect(await sniffUpload(await make(), {})).toEqual(expected);
    });

    it('judges text longer than the text limit by its first MiB, even when that cuts a character', async () => {
      const path = join(dir, 'long.txt');
      // The 3-byte "€" straddles the 1 MiB boundary; the size limit is the caller's to apply.
      await writeFile(path, `${'a'.repeat(MEDIA_LIMITS.text - 1)}€ and more`);
      expect((await sniffUpload(path, { filename: 'long.txt' })).kind).toBe('text');
    });

    it('ignores a name and type that claim nothing (octet-stream, unknown, no extension)', async () => {
      const jpeg = await fixtures.smallJpeg(dir);
      for (const declared of [{ contentType: 'application/octet-stream' }, { contentType: 'application/x-whatever', filename: 'blob' }, { filename: 'IMG_0001' }, { contentType: '' }]) {
        expect((await sniffUpload(jpeg, declared)).kind).toBe('image');
      }
    });

    it('accepts an honest declaration, parameters and case notwithstanding', async () => {
      const jpeg = await fixtures.smallJpeg(dir);
      expect((await sniffUpload(jpeg, { filename: 'Holiday.JPEG', contentType: 'Image/JPEG; charset=binary' })).kind).toBe('image');
      // Any image type is the same kind: a PNG-named JPEG is still an image, and is treated as the JPEG it is.
      expect(await sniffUpload(jpeg, { filename: 'x.png', contentType: 'image/png' })).toMatchObject({ kind: 'image', format: 'jpeg' });
    });

    it('lets an MP4 or WebM container be declared as audio (voice memos, MediaRecorder)', async () => {
      expect((await sniffUpload(await fixtures.mp4WithTags(dir), { filename: 'memo.m4a', contentType: 'audio/mp4' })).kind).toBe('video');
      expect((await sniffUpload(await fixtures.tinyVideo(dir, 'webm'), { contentType: 'audio/webm' })).kind).toBe('video');
      expect((await sniffUpload(await fixtures.tinyAudio(dir, 'm4a'), { filename: 'clip.mp4', contentType: 'video/mp4' })).kind).toBe('audio');
    });
  });

  describe('refuses a declaration naming another kind', () => {
    it.each([
      ['a JPEG named .mp3', { filename: 'song.mp3' }],
      ['a JPEG sent as audio/mpeg', { contentType: 'audio/mpeg' }],
      ['a JPEG named .mp3 and sent as octet-stream', { filename: 'song.mp3', contentType: 'application/octet-stream' }],
      ['a JPEG sent as text/plain', { contentType: 'text/plain' }],
      ['a JPEG named .mp4 with an image type', { filename: 'clip.mp4', contentType: 'image/jpeg' }],
    ])('%s → 415 type_mismatch', async (_name, declared) => {
      const error = await rejection(sniffUpload(await fixtures.smallJpeg(dir), declared));
      expect({ status: error.status, code: error.code }).toEqual({ status: 415, code: 'type_mismatch' });
      expect(error.message).toMatch(/image.*declared as (audio|text|video)/);
    });

    it('text sent as an image → 415 type_mismatch', async () => {
      const error = await rejection(sniffUpload(await fixtures.utf8Text(dir), { filename: 'photo.jpg' }));
      expect(error.code).toBe('type_mismatch');
    });

    it('an MP3 named .jpg → 415 type_mismatch', async () => {
      const error = await rejection(sniffUpload(await fixtures.mp3WithTags(dir), { filename: 'cover.jpg', contentType: 'image/jpeg' }));
      expect(error.code).toBe('type_mismatch');
    });
  });

  describe('refuses what it does not accept', () => {
    it.each([
      ['ZIP', () => fixtures.zipFile(dir), /application\/zip/],
      ['PDF', () => fixtures.pdfFile(dir), /application\/pdf/],
      ['EXE', () => fixtures.exeFile(dir), /application\/x-msdownload/],
      ['SVG', () => fixtures.svgFile(dir), /HTML, SVG and XML are not accepted/],
      ['HTML after a BOM and blank lines', () => fixtures.htmlFile(dir), /HTML, SVG and XML are not accepted/],
      ['XML', () => fixtures.xmlFile(dir), /HTML, SVG and XML are not accepted/],
      ['text containing <script', () => fixtures.textWithScript(dir), /HTML, SVG and XML are not accepted/],
      ['HEIC', () => fixtures.heicHeader(dir), /HEIC\/HEIF images cannot be processed/],
      ['Latin-1 text', () => fixtures.latin1Text(dir), /not recognised.*UTF-8/],
      ['UTF-16 text', () => fixtures.utf16Text(dir), /not recognised.*UTF-8/],
      ['random bytes', () => fixtures.garbageMedia(dir), /not recognised/],
    ])('%s → 415 unsupported_type', async (_name, make, message) => {
      const error = await rejection(sniffUpload(await make(), {}));
      expect({ status: error.status, code: error.code }).toEqual({ status: 415, code: 'unsupported_type' });
      expect(error.message).toMatch(message);
    });

    it('an empty file → 400 empty_file', async () => {
      const error = await rejection(sniffUpload(await fixtures.emptyFile(dir), { filename: 'a.jpg', contentType: 'image/jpeg' }));
      expect({ status: error.status, code: error.code }).toEqual({ status: 400, code: 'empty_file' });
    });

    it('never echoes the content in its message', async () => {
      const error = await rejection(sniffUpload(await fixtures.textWithScript(dir), {}));
      expect(error.message).not.toContain('evil');
    });
  });
});

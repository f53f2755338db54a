import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import { AvTransformer } from './av-transformer.js';
import { UploadRejected } from './upload-rejected.js';

const IDENTIFYING_TAGS = /^(title|artist|album|comment|description|creation_time|date|location|location-eng|encoder|com\.apple\..*|make|model)=/i;

async function rejection(promise: Promise<unknown>): Promise<UploadRejected> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UploadRejected);
  return error as UploadRejected;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function expectNoPlantedValues(path: string): Promise<void> {
  const bytes = await readFile(path);
  for (const value of Object.values(fixtures.PLANTED_TAGS)) expect(bytes.includes(Buffer.from(value))).toBe(false);
  // x264's SEI user data (encoder build and every setting) is filtered out of the stream.
  expect(bytes.includes(Buffer.from('x264 - core'))).toBe(false);
}

describe('AvTransformer', () => {
  const av = new AvTransformer();
  let dir: string;
  let mp4: string;
  let mp3: string;
  let portrait: string;

  beforeAll(async () => {
    dir = await fixtures.createTempDir('av');
    [mp4, mp3, portrait] = await Promise.all([fixtures.mp4WithTags(dir), fixtures.mp3WithTags(dir), fixtures.portraitMp4(dir)]);
  });
  afterAll(() => fixtures.removeTempDir(dir));

  describe('probe', () => {
    it('reports duration, streams and display size', async () => {
      expect(await av.probe(mp4)).toEqual({ durationMs: 2000, hasVideo: true, hasAudio: true, width: 1280, height: 960 });
      expect(await av.probe(mp3)).toMatchObject({ hasVideo: false, hasAudio: true });
      // Stored 1920×1080 with a quarter turn: displayed portrait.
      expect(await av.probe(portrait)).toMatchObject({ hasVideo: true, hasAudio: false, width: 1080, height: 1920 });
    });
  });

  describe('transformVideo', () => {
    it('re-encodes an MP4 to H.264/AAC within 720p, every tag gone', async () => {
      const output = join(dir, 'tagged-out.mp4');
      const result = await av.transformVideo(mp4, output);
      expect(result).toMatchObject({ width: 960, height: 720, mime: 'video/mp4' });
      expect(result.durationMs).toBeGreaterThan(1900);
      expect(result.durationMs).toBeLessThan(2200);
      expect(result.bytes).toBe((await stat(output)).size);

      const probe = await fixtures.ffprobeJson(output);
      expect(probe.streams.map((stream) => `${stream.codec_type}:${stream.codec_name}`)).toEqual(['video:h264', 'audio:aac']);
      expect(probe.format.tags ?? {}).not.toHaveProperty('encoder');
      expect(probe.chapters).toEqual([]);
      const tags = fixtures.allTags(probe);
      // The MP4 sample entry always has a 31-byte "compressor name" that ffprobe shows as a
      // stream `encoder` tag; with bitexact ffmpeg writes a fixed, version-less value there.
      const leftovers = tags.filter((tag) => IDENTIFYING_TAGS.test(tag) && tag !== 'encoder=Lavc libx264');
      expect(leftovers).toEqual([]);
      expect(tags.join('\n')).not.toMatch(/Jane|Secret|example\.com|48\.8584|2021-06-15|Lavf\d|Lavc\d/);
      await expectNoPlantedValues(output);
    });

    it('brings a rotated phone clip out upright and bounded: 1080×1920 → 720×1280', async () => {
      const output = join(dir, 'portrait-out.mp4');
      expect(await av.transformVideo(portrait, output)).toMatchObject({ width: 720, height: 1280 });
      const video = (await fixtures.ffprobeJson(output)).streams[0]!;
      expect({ width: video.width, height: video.height }).toEqual({ width: 720, height: 1280 });
      expect(video.side_data_list ?? []).toEqual([]);
    });

    it.each(['webm', 'mov'] as const)('accepts %s and never enlarges a small video', async (format) => {
      const output = join(dir, `tiny-${format}.mp4`);
      expect(await av.transformVideo(await fixtures.tinyVideo(dir, format), output)).toMatchObject({ width: 160, height: 120, mime: 'video/mp4' });
    });

    it('refuses a file without video: 422 no_video_stream', async () => {
      const error = await rejection(av.transformVideo(mp3, join(dir, 'no-video.mp4')));
      expect({ status: error.status, code: error.code }).toEqual({ status: 422, code: 'no_video_stream' });
    });

    it('refuses a video longer than the maximum after probing, before encoding: 413 too_long', async () => {
      const output = join(dir, 'too-long.mp4');
      const error = await rejection(new AvTransformer({ maxVideoSeconds: 1 }).transformVideo(mp4, output));
      expect({ status: error.status, code: error.code }).toEqual({ status: 413, code: 'too_long' });
      expect(await exists(output)).toBe(false);
    });

    it('refuses a video frame larger than maxVideoPixels: 413 video_too_large', async () => {
      const error = await rejection(new AvTransformer({ maxVideoPixels: 640 * 480 }).transformVideo(mp4, join(dir, 'huge.mp4')));
      expect({ status: error.status, code: error.code }).toEqual({ status: 413, code: 'video_too_large' });
    });

    it('kills ffmpeg at the deadline: 422 processing_timeout, no output left behind', async () => {
      const output = join(dir, 'slow.mp4');
      const started = performance.now();
      const error = await rejection(new AvTransformer({ timeoutMs: 150 }).transformVideo(portrait, output));
      expect({ status: error.status, code: error.code }).toEqual({ status: 422, code: 'processing_timeout' });
      expect(performance.now() - started).toBeLessThan(2000);
      expect(await exists(output)).toBe(false);
    });
  });

  describe('transformAudio', () => {
    it('re-encodes an MP3 to AAC in MP4, every tag gone', async () => {
      const output = join(dir, 'tagged-out.m4a');
      const result = await av.transformAudio(mp3, output);
      expect(result.mime).toBe('audio/mp4');
      expect(result.durationMs).toBeGreaterThan(1900);
      expect(result.durationMs).toBeLessThan(2200);
      expect(result.bytes).toBe((await stat(output)).size);
      const probe = await fixtures.ffprobeJson(output);
      expect(probe.format.format_name).toContain('mp4');
      expect(probe.streams.map((stream) => `${stream.codec_type}:${stream.codec_name}`)).toEqual(['audio:aac']);
      expect(fixtures.allTags(probe).filter((tag) => IDENTIFYING_TAGS.test(tag))).toEqual([]);
      await expectNoPlantedValues(output);
    });

    it('keeps only the sound of a video', async () => {
      const output = join(dir, 'sound-of-video.m4a');
      await av.transformAudio(mp4, output);
      expect((await fixtures.ffprobeJson(output)).streams.map((stream) => stream.codec_type)).toEqual(['audio']);
      await expectNoPlantedValues(output);
    });

    it('drops cover art: a picture in an MP3 is neither video nor kept', async () => {
      const input = await fixtures.mp3WithCoverArt(dir);
      expect((await fixtures.ffprobeJson(input)).streams.map((stream) => stream.codec_type)).toEqual(['audio', 'video']);
      expect(await av.probe(input)).toMatchObject({ hasVideo: false, hasAudio: true });
      const output = join(dir, 'cover-art.m4a');
      await av.transformAudio(input, output);
      expect((await fixtures.ffprobeJson(output)).streams.map((stream) => stream.codec_type)).toEqual(['audio']);
    });

    it.each(['wav', 'opus', 'ogg', 'flac', 'm4a', 'aac'] as const)('accepts %s', async (format) => {
      const result = await av.transformAudio(await fixtures.tinyAudio(dir, format), join(dir, `tiny-${format}.m4a`));
      expect(result.mime).toBe('audio/mp4');
      expect(result.durationMs).toBeGreaterThan(400);
      expect(result.durationMs).toBeLessThan(700);
    });

    it('refuses audio longer than the maximum: 413 too_long', async () => {
      const error = await rejection(new AvTransformer({ maxAudioSeconds: 1 }).transformAudio(mp3, join(dir, 'long.m4a')));
      expect({ status: error.status, code: error.code }).toEqual({ status: 413, code: 'too_long' });
      expect(error.message).toContain('1 second');
    });

    it('refuses a file without sound: 422 no_audio_stream', async () => {
      const error = await rejection(av.transformAudio(portrait, join(dir, 'silent.m4a')));
      expect({ status: error.status, code: error.code }).toEqual({ status: 422, code: 'no_audio_stream' });
    });
  });

  describe('unreadable input', () => {
    it.each([
      ['random bytes', fixtures.garbageMedia],
      ['an MP4 header followed by noise', fixtures.fakeMp4],
    ])('%s → 422 unreadable_media, ffmpeg output kept out of the message', async (_name, make) => {
      const input = await make(dir);
      for (const attempt of [() => av.transformVideo(input, join(dir, 'x.mp4')), () => av.transformAudio(input, join(dir, 'x.m4a')), () => av.probe(input)]) {
        const error = await rejection(attempt());
        expect({ status: error.status, code: error.code }).toEqual({ status: 422, code: 'unreadable_media' });
        expect(error.message).toBe('The file could not be read as audio or video');
        expect(error.detail).toBeTruthy();
        expect(error.detail!.length).toBeLessThanOrEqual(160);
        expect(error.detail).not.toContain(dir);
      }
    });
  });
});

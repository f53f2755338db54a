import { readFile, stat } from 'node:fs/promises';
import exifr from 'exifr';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PLANTED,
  PLANTED_TAGS,
  allTags,
  createTempDir,
  ffprobeJson,
  jpegWithEverything,
  jpegZipPolyglot,
  mp3WithTags,
  mp4WithTags,
  pngBomb,
  pngWithTextChunks,
  portraitMp4,
  removeTempDir,
  truncatedJpeg,
} from './make-fixtures.js';

// The "metadata is gone" assertions elsewhere only mean something if the inputs really
// carry it: this file proves the fixtures do.
describe('test fixtures', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await createTempDir('fixtures');
  });
  afterAll(() => removeTempDir(dir));

  it('jpegWithEverything carries EXIF, GPS, XMP, IPTC, a P3 ICC profile and orientation 6', async () => {
    const path = await jpegWithEverything(dir);
    const meta = await sharp(path).metadata();
    expect({ width: meta.width, height: meta.height, orientation: meta.orientation }).toEqual({ width: 4000, height: 3000, orientation: 6 });
    expect(meta.exif?.length).toBeGreaterThan(0);
    expect(meta.xmp?.length).toBeGreaterThan(0);
    expect(meta.iptc?.length).toBeGreaterThan(0);
    expect(meta.hasProfile).toBe(true);

    const parsed = await exifr.parse(path, { tiff: true, exif: true, gps: true, xmp: true, iptc: true, icc: true });
    expect(parsed.Make).toBe(PLANTED.make);
    expect(parsed.Model).toBe(PLANTED.model);
    expect(parsed.DateTimeOriginal).toBeInstanceOf(Date);
    expect(parsed.latitude).toBeCloseTo(PLANTED.latitude, 3);
    expect(parsed.longitude).toBeCloseTo(PLANTED.longitude, 3);
    expect(JSON.stringify(parsed.creator)).toContain(PLANTED.xmpCreator);
    expect(parsed.Byline).toBe(PLANTED.iptcByline);
    expect(parsed.City).toBe(PLANTED.iptcCity);
    expect(parsed.ProfileDescription).toMatch(/P3/);
    expect(await exifr.orientation(path)).toBe(6);
  });

  it('pngWithTextChunks carries tEXt and iTXt chunks', async () => {
    const path = await pngWithTextChunks(dir);
    const bytes = await readFile(path);
    for (const type of ['tEXt', 'iTXt']) expect(bytes.includes(Buffer.from(type))).toBe(true);
    const comments = (await sharp(path).metadata()).comments ?? [];
    expect(comments).toEqual(expect.arrayContaining([{ keyword: 'Author', text: PLANTED.pngAuthor }, { keyword: 'Comment', text: PLANTED.pngComment }]));
  });

  it('pngBomb is tiny on disk and declares 50,000 × 50,000 pixels', async () => {
    const path = await pngBomb(dir);
    expect((await stat(path)).size).toBeLessThan(2048);
    const bytes = await readFile(path);
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([50_000, 50_000]);
    // Header readers with no pixel limit believe it.
    expect((await sharp(path, { limitInputPixels: false }).metadata()).width).toBe(50_000);
  });

  it('truncatedJpeg has an intact header but not all of its scan data', async () => {
    const path = await truncatedJpeg(dir);
    expect((await sharp(path).metadata()).width).toBe(640);
    const bytes = await readFile(path);
    expect(bytes.subarray(-2).equals(Buffer.from([0xff, 0xd9]))).toBe(false);
  });

  it('jpegZipPolyglot is a JPEG that also holds a ZIP', async () => {
    const bytes = await readFile(await jpegZipPolyglot(dir));
    expect(bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
    expect(bytes.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(true);
    expect(bytes.includes(Buffer.from('PK\x05\x06', 'latin1'))).toBe(true);
  });

  it('mp4WithTags carries title, artist, comment, creation time, location and a named handler', async () => {
    const probe = await ffprobeJson(await mp4WithTags(dir));
    const tags = probe.format.tags ?? {};
    expect(tags).toMatchObject({ title: PLANTED_TAGS.title, artist: PLANTED_TAGS.artist, comment: PLANTED_TAGS.comment, creation_time: PLANTED_TAGS.creation_time, location: PLANTED_TAGS.location });
    expect(allTags(probe)).toContain(`handler_name=${PLANTED_TAGS.handler}`);
    expect(allTags(probe).some((tag) => tag.startsWith('encoder=Lav'))).toBe(true);
    expect(probe.streams.find((stream) => stream.codec_type === 'video')).toMatchObject({ width: 1280, height: 960 });
  });

  it('mp3WithTags carries title, artist, comment and creation time', async () => {
    const probe = await ffprobeJson(await mp3WithTags(dir));
    expect(probe.format.tags).toMatchObject({ title: PLANTED_TAGS.title, artist: PLANTED_TAGS.artist, comment: PLANTED_TAGS.comment, creation_time: PLANTED_TAGS.creation_time });
    expect(Number(probe.format.duration)).toBeCloseTo(2, 0);
  });

  it('portraitMp4 stores landscape frames with a quarter-turn rotation', async () => {
    const probe = await ffprobeJson(await portraitMp4(dir));
    const video = probe.streams[0]!;
    expect({ width: video.width, height: video.height }).toEqual({ width: 1920, height: 1080 });
    expect(Math.abs(Number(video.side_data_list?.[0]?.rotation))).toBe(90);
  });
});

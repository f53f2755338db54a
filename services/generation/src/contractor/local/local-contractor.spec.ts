import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from '@homiwork/media-fixtures';
import type { GenerationRpc } from '@homiwork/contracts';
import { ContractorError, type ContractorInput, type ContractorResult } from '../contractor.js';
import { songArgs, videoArgs } from './av-encoding.js';
import { LocalContractor } from './local-contractor.js';
import { SAMPLE_RATE } from './melody.js';
import { SeededRandom } from './seed.js';
import { runFfmpeg } from './run-ffmpeg.js';

const run = promisify(execFile);
const never = new AbortController().signal;

interface Probe {
  format: { format_name: string; duration: string; tags?: Record<string, string> };
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; r_frame_rate?: string; duration?: string }>;
}

async function failure(promise: Promise<unknown>): Promise<ContractorError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ContractorError);
  return error as ContractorError;
}

function bytesOf(result: ContractorResult): Buffer {
  return result.type === 'text' ? Buffer.from(result.text, 'utf8') : result.data;
}

/** Valid UTF-8 that survives a strict round trip (a lone surrogate would not). */
function expectWellFormedText(result: ContractorResult): string {
  expect(result.type).toBe('text');
  const text = result.type === 'text' ? result.text : '';
  expect(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'utf8'))).toBe(text);
  expect(text.trim().length).toBeGreaterThan(0);
  return text;
}

describe('LocalContractor', () => {
  let dir: string;
  let workDir: string;
  let contractor: LocalContractor;

  async function generate(kind: GenerationRpc.GenerationKind, prompt: string, extra: { style?: string; inputs?: ContractorInput[] } = {}): Promise<ContractorResult> {
    const options = extra.style === undefined ? {} : { style: extra.style };
    return contractor.generate({ jobId: 'a-fresh-random-id', kind, prompt, options, inputs: extra.inputs ?? [] }, never);
  }

  async function probe(data: Buffer, name: string): Promise<Probe> {
    const path = join(dir, name);
    await writeFile(path, data);
    const { stdout } = await run('/usr/bin/ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path]);
    return JSON.parse(stdout) as Probe;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-contractor-spec-'));
    workDir = await mkdtemp(join(tmpdir(), 'local-contractor-work-'));
    contractor = new LocalContractor({ tmpDir: workDir });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  it('is the local adapter', () => {
    expect(contractor.name).toBe('local');
  });

  describe('poem', () => {
    it('writes 4–12 lines of UTF-8 around words of the prompt', async () => {
      const lineCounts = new Set<number>();
      for (let index = 0; index < 30; index++) {
        const text = expectWellFormedText(await generate('poem', `a poem about lighthouses and number ${index} séance`));
        const lines = text.split('\n').filter((line) => line.trim() !== '');
        expect(lines.length).toBeGreaterThanOrEqual(4);
        expect(lines.length).toBeLessThanOrEqual(12);
        lineCounts.add(lines.length);
        expect(text.toLowerCase()).toMatch(/lighthouses|séance|number/);
      }
      // The length really varies with the prompt.
      expect(lineCounts.size).toBeGreaterThan(1);
    });

    it('keeps non-Latin prompt words intact', async () => {
      const text = expectWellFormedText(await generate('poem', 'стихотворение про море и ветер'));
      expect(text).toMatch(/стихотворение|море|ветер/);
    });

    it('never takes the scrubber placeholders as a theme', async () => {
      const text = expectWellFormedText(await generate('poem', '[email] [phone] [email]'));
      expect(text).not.toMatch(/email|phone/i);
    });
  });

  describe('text', () => {
    it('follows the style asked for', async () => {
      const prompt = 'our community garden open day';
      expect(expectWellFormedText(await generate('text', prompt, { style: 'formal-letter' }))).toMatch(/^Subject: [\s\S]*Dear Sir or Madam,[\s\S]*garden[\s\S]*Yours faithfully,\n\[Your name\]\n$/);
      expect(expectWellFormedText(await generate('text', prompt, { style: 'marketing' }))).toMatch(/garden[\s\S]*\n• .+\n• .+\n• .+\n/);
      expect(expectWellFormedText(await generate('text', prompt, { style: 'greeting' }))).toMatch(/^.+!\n\n.*garden/);
    });

    it('without a known style, picks one by the prompt’s words', async () => {
      expect(expectWellFormedText(await generate('text', 'A complaint letter to my landlord about the heating'))).toContain('Dear Sir or Madam');
      expect(expectWellFormedText(await generate('text', 'Launch copy for our lemonade brand, summer sale'))).toMatch(/lemonade/);
      expect(expectWellFormedText(await generate('text', 'Launch copy for our lemonade brand, summer sale'))).toMatch(/\n• /);
      expect(expectWellFormedText(await generate('text', 'Birthday card for grandma who loves tulips'))).toMatch(/^Happy birthday!\n\n.*(grandma|tulips)/);
      expect(expectWellFormedText(await generate('text', 'tulips', { style: 'no-such-style' }))).toMatch(/^.+!\n/);
    });

    it('signs with a placeholder: the contractor never knows who asked', async () => {
      for (const style of ['greeting', 'formal-letter']) expect(expectWellFormedText(await generate('text', 'thanks for the help', { style }))).toContain('[Your name]');
    });
  });

  it('same request, same result; another prompt, another result (every kind)', async () => {
    for (const kind of ['poem', 'text', 'image', 'song', 'video'] as const) {
      const first = bytesOf(await generate(kind, 'a fox in the snow at midnight'));
      const again = bytesOf(await generate(kind, 'a fox in the snow at midnight'));
      const other = bytesOf(await generate(kind, 'a fox in the snow at noon'));
      expect(again.equals(first), `${kind} repeatable`).toBe(true);
      expect(other.equals(first), `${kind} depends on the prompt`).toBe(false);
    }
    // The style is part of the seed too.
    expect(bytesOf(await generate('image', 'a fox', { style: 'marketing' })).equals(bytesOf(await generate('image', 'a fox')))).toBe(false);
  });

  describe('image', () => {
    it('is a 512×512 PNG that sharp decodes, with no metadata', async () => {
      const result = await generate('image', 'a lighthouse in a storm');
      expect(result).toMatchObject({ type: 'file', mimeType: 'image/png' });
      const data = bytesOf(result);
      const metadata = await sharp(data).metadata();
      expect(metadata).toMatchObject({ format: 'png', width: 512, height: 512, channels: 3, hasAlpha: false });
      expect(metadata.exif).toBeUndefined();
      expect(metadata.xmp).toBeUndefined();
      expect(metadata.iptc).toBeUndefined();
      expect(metadata.icc).toBeUndefined();
      expect(metadata.comments ?? []).toEqual([]);
      // Not a flat fill: the picture has shapes in several colours.
      const stats = await sharp(data).stats();
      expect(stats.channels.some((channel) => channel.stdev > 10)).toBe(true);
    });

    it('frames an input image into the picture, leaving all of its metadata behind', async () => {
      const jpeg = await readFile(await fixtures.jpegWithEverything(dir));
      const inputs = [{ mimeType: 'image/jpeg', data: jpeg }];
      const data = bytesOf(await generate('image', 'my holiday photo', { inputs }));
      const metadata = await sharp(data).metadata();
      expect(metadata).toMatchObject({ format: 'png', width: 512, height: 512, channels: 3 });
      expect(metadata.exif).toBeUndefined();
      expect(metadata.xmp).toBeUndefined();
      expect(metadata.iptc).toBeUndefined();
      expect(metadata.icc).toBeUndefined();
      expect(metadata.comments ?? []).toEqual([]);
      for (const planted of [fixtures.PLANTED.make, fixtures.PLANTED.model, fixtures.PLANTED.xmpCreator, fixtures.PLANTED.iptcByline, fixtures.PLANTED.iptcCity]) {
        expect(data.includes(Buffer.from(planted))).toBe(false);
      }
      // The input's blue fills the middle of the picture.
      const { data: centre } = await sharp(data).extract({ left: 250, top: 250, width: 4, height: 4 }).raw().toBuffer({ resolveWithObject: true });
      expect(Math.abs(centre[0]! - 40)).toBeLessThan(24);
      expect(Math.abs(centre[1]! - 110)).toBeLessThan(24);
      expect(Math.abs(centre[2]! - 190)).toBeLessThan(24);
      expect(data.equals(bytesOf(await generate('image', 'my holiday photo')))).toBe(false);
    });

    it('takes up to four input images, as a grid', async () => {
      const colours = [
        { r: 255, g: 0, b: 0 },
        { r: 0, g: 255, b: 0 },
        { r: 0, g: 0, b: 255 },
        { r: 255, g: 255, b: 0 },
        { r: 255, g: 0, b: 255 },
      ];
      const inputs = await Promise.all(colours.map(async (background) => ({ mimeType: 'image/webp', data: await sharp({ create: { width: 64, height: 48, channels: 3, background } }).webp({ lossless: true }).toBuffer() })));
      const data = bytesOf(await generate('image', 'a collage', { inputs }));
      const pixel = async (left: number, top: number) => [...(await sharp(data).extract({ left, top, width: 1, height: 1 }).raw().toBuffer())];
      // Cell centres of the 2×2 grid; the fifth image is left out.
      expect(await pixel(138, 138)).toEqual([255, 0, 0]);
      expect(await pixel(374, 138)).toEqual([0, 255, 0]);
      expect(await pixel(138, 374)).toEqual([0, 0, 255]);
      expect(await pixel(374, 374)).toEqual([255, 255, 0]);
    });

    it('ignores inputs that are not images', async () => {
      const withAudio = bytesOf(await generate('image', 'a fox', { inputs: [{ mimeType: 'audio/mp4', data: Buffer.from('not looked at') }] }));
      expect(withAudio.equals(bytesOf(await generate('image', 'a fox')))).toBe(true);
    });

    it('refuses an input that is not a raster image it decodes, before any decoder sees it', async () => {
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
      expect(await failure(generate('image', 'a fox', { inputs: [{ mimeType: 'image/png', data: svg }] }))).toMatchObject({ code: 'contractor_rejected' });
      const truncated = (await readFile(await fixtures.jpegWithEverything(dir))).subarray(0, 5000);
      expect(await failure(generate('image', 'a fox', { inputs: [{ mimeType: 'image/jpeg', data: truncated }] }))).toMatchObject({
        code: 'contractor_rejected',
        message: 'An input image could not be decoded',
      });
    });
  });

  describe('song', () => {
    it('is a few seconds of Opus in Ogg that ffprobe recognises, without tags', async () => {
      const result = await generate('song', 'a lullaby for a sleepy cat');
      expect(result).toMatchObject({ type: 'file', mimeType: 'audio/ogg' });
      const probed = await probe(bytesOf(result), 'song.ogg');
      expect(probed.format.format_name).toBe('ogg');
      expect(probed.streams).toHaveLength(1);
      expect(probed.streams[0]).toMatchObject({ codec_type: 'audio', codec_name: 'opus' });
      const seconds = Number(probed.format.duration);
      expect(seconds).toBeGreaterThanOrEqual(3);
      expect(seconds).toBeLessThanOrEqual(6);
      expect(probed.format.tags ?? {}).toEqual({});
      // A melody, not silence: decoded, the samples swing well away from zero.
      const decoded = (await run('/usr/bin/ffmpeg', ['-v', 'error', '-i', join(dir, 'song.ogg'), '-f', 's16le', '-ac', '1', '-'], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 })).stdout;
      let peak = 0;
      for (let offset = 0; offset + 1 < decoded.length; offset += 2) peak = Math.max(peak, Math.abs(decoded.readInt16LE(offset)));
      expect(peak).toBeGreaterThan(8000);
    });

    it('has an MP3 form for an ffmpeg without libopus', async () => {
      const pcm = Buffer.alloc(SAMPLE_RATE * 2 * 3);
      for (let i = 0; i < SAMPLE_RATE * 3; i++) pcm.writeInt16LE(Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE)), i * 2);
      const mp3 = await runFfmpeg('/usr/bin/ffmpeg', { args: songArgs({ encoder: 'libmp3lame', mimeType: 'audio/mpeg' }), stdin: pcm, timeoutMs: 20_000, maxStdoutBytes: 1024 * 1024, signal: never });
      // No ID3 tag: the file starts on an MPEG audio frame.
      expect(mp3[0]).toBe(0xff);
      const probed = await probe(mp3, 'song.mp3');
      expect(probed.format.format_name).toBe('mp3');
      expect(probed.streams[0]).toMatchObject({ codec_type: 'audio', codec_name: 'mp3' });
      expect(probed.format.tags ?? {}).toEqual({});
    });
  });

  describe('video', () => {
    it('is a small H.264/AAC MP4 of a few seconds with its index first, without tags or x264 banner', async () => {
      const result = await generate('video', 'waves on a beach');
      expect(result).toMatchObject({ type: 'file', mimeType: 'video/mp4' });
      const data = bytesOf(result);
      const probed = await probe(data, 'video.mp4');
      expect(probed.format.format_name).toContain('mp4');
      const video = probed.streams.find((stream) => stream.codec_type === 'video');
      const audio = probed.streams.find((stream) => stream.codec_type === 'audio');
      expect(video).toMatchObject({ codec_name: 'h264', width: 320, height: 240, r_frame_rate: '12/1' });
      expect(audio).toMatchObject({ codec_name: 'aac' });
      const seconds = Number(probed.format.duration);
      expect(seconds).toBeGreaterThanOrEqual(2);
      expect(seconds).toBeLessThanOrEqual(4);
      // +faststart: the moov box precedes the media data, so playback starts before the download ends.
      expect(data.indexOf('moov')).toBeGreaterThan(0);
      expect(data.indexOf('moov')).toBeLessThan(data.indexOf('mdat'));
      for (const key of Object.keys(probed.format.tags ?? {})) expect(['major_brand', 'minor_version', 'compatible_brands']).toContain(key);
      expect(data.includes(Buffer.from('x264 - core'))).toBe(false);
      // Frames that move: the first and the last differ.
      const frame = async (at: string) => (await run('/usr/bin/ffmpeg', ['-v', 'error', '-ss', at, '-i', join(dir, 'video.mp4'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { encoding: 'buffer', maxBuffer: 1024 * 1024 })).stdout;
      expect((await frame('0')).equals(await frame('2.5'))).toBe(false);
    });

    it('has an MPEG-4 part 2 form for an ffmpeg without libx264', async () => {
      const output = join(dir, 'fallback.mp4');
      const pcm = Buffer.alloc(SAMPLE_RATE * 2 * 3);
      await runFfmpeg('/usr/bin/ffmpeg', { args: videoArgs({ width: 320, height: 240, fps: 12, seconds: 3 }, 'mpeg4', new SeededRandom(Buffer.from('x')), output), stdin: pcm, timeoutMs: 20_000, maxStdoutBytes: 64 * 1024, signal: never });
      const probed = await probe(await readFile(output), 'fallback-probed.mp4');
      expect(probed.streams.find((stream) => stream.codec_type === 'video')).toMatchObject({ codec_name: 'mpeg4', width: 320, height: 240 });
      expect(Number(probed.format.duration)).toBeCloseTo(3, 0);
    });

    it('leaves no working files behind', async () => {
      await generate('video', 'a quiet forest');
      expect(await readdir(workDir)).toEqual([]);
    });
  });

  describe('abort', () => {
    /** ffmpeg processes whose command line names `path` (our work directory), still running. */
    async function ffmpegsUsing(path: string): Promise<number[]> {
      const found: number[] = [];
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const [exe, cmdline, stat] = await Promise.all([readlink(`/proc/${entry}/exe`).catch(() => ''), readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''), readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')]);
        if (exe.endsWith('ffmpeg') && cmdline.includes(path) && !/\) Z /.test(stat)) found.push(Number(entry));
      }
      return found;
    }

    /**
     * The real ffmpeg, told to read its generated frames at their native rate (`-re`): a
     * 3-second video then takes 3 seconds, so an abort or a deadline surely lands mid-run.
     */
    async function realTimeFfmpeg(into: string): Promise<string> {
      const path = join(into, 'real-time-ffmpeg');
      await writeFile(path, '#!/bin/sh\ncase "$*" in *-encoders*) exec /usr/bin/ffmpeg "$@";; esac\nexec /usr/bin/ffmpeg -re "$@"\n');
      await chmod(path, 0o755);
      return path;
    }

    async function waitForFfmpeg(path: string): Promise<number[]> {
      for (let attempt = 0; attempt < 500; attempt++) {
        const running = await ffmpegsUsing(path);
        if (running.length > 0) return running;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return [];
    }

    it('kills the running ffmpeg, removes its files, and rejects with the reason', async () => {
      const scriptDir = await mkdtemp(join(tmpdir(), 'local-contractor-script-'));
      const abortDir = await mkdtemp(join(tmpdir(), 'local-contractor-abort-'));
      try {
        const slow = new LocalContractor({ ffmpegPath: await realTimeFfmpeg(scriptDir), tmpDir: abortDir, timeoutMs: 60_000 });
        const controller = new AbortController();
        const pending = slow.generate({ jobId: 'j', kind: 'video', prompt: 'a storm', options: {}, inputs: [] }, controller.signal);
        const rejected = pending.then(
          () => 'resolved',
          (error: unknown) => error,
        );
        expect(await waitForFfmpeg(abortDir)).toHaveLength(1);
        const reason = new Error('shutting down');
        const abortedAt = performance.now();
        controller.abort(reason);
        expect(await rejected).toBe(reason);
        // Well before the 3 s the run would take if left alone.
        expect(performance.now() - abortedAt).toBeLessThan(1500);
        expect(await ffmpegsUsing(abortDir)).toEqual([]);
        expect(await readdir(abortDir)).toEqual([]);
      } finally {
        await rm(abortDir, { recursive: true, force: true });
        await rm(scriptDir, { recursive: true, force: true });
      }
    });

    it('time-boxes each ffmpeg run: contractor_timeout, process gone, files removed', async () => {
      const scriptDir = await mkdtemp(join(tmpdir(), 'local-contractor-script-'));
      const timeoutDir = await mkdtemp(join(tmpdir(), 'local-contractor-timeout-'));
      try {
        const boxed = new LocalContractor({ ffmpegPath: await realTimeFfmpeg(scriptDir), tmpDir: timeoutDir, timeoutMs: 800 });
        const started = performance.now();
        expect(await failure(boxed.generate({ jobId: 'j', kind: 'video', prompt: 'a storm', options: {}, inputs: [] }, never))).toMatchObject({ code: 'contractor_timeout' });
        expect(performance.now() - started).toBeLessThan(2500);
        expect(await ffmpegsUsing(timeoutDir)).toEqual([]);
        expect(await readdir(timeoutDir)).toEqual([]);
      } finally {
        await rm(timeoutDir, { recursive: true, force: true });
        await rm(scriptDir, { recursive: true, force: true });
      }
    });

    it('starts nothing for a signal already aborted', async () => {
      const reason = new Error('too late');
      await expect(contractor.generate({ jobId: 'j', kind: 'poem', prompt: 'x', options: {}, inputs: [] }, AbortSignal.abort(reason))).rejects.toBe(reason);
      await expect(contractor.generate({ jobId: 'j', kind: 'video', prompt: 'x', options: {}, inputs: [] }, AbortSignal.abort(reason))).rejects.toBe(reason);
      expect(await readdir(workDir)).toEqual([]);
    });

    it('returns no image for a job aborted while sharp rendered it', async () => {
      const controller = new AbortController();
      const pending = contractor.generate({ jobId: 'j', kind: 'image', prompt: 'x', options: {}, inputs: [] }, controller.signal);
      const reason = new Error('cancelled');
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
    });
  });

  it('fails as contractor_unavailable without ffmpeg, and the next job asks again', async () => {
    const missing = new LocalContractor({ ffmpegPath: '/nonexistent/ffmpeg', tmpDir: workDir });
    expect(await failure(missing.generate({ jobId: 'j', kind: 'song', prompt: 'x', options: {}, inputs: [] }, never))).toMatchObject({ code: 'contractor_unavailable' });
    expect(await failure(missing.generate({ jobId: 'j', kind: 'video', prompt: 'x', options: {}, inputs: [] }, never))).toMatchObject({ code: 'contractor_unavailable' });
    // Text and images need no ffmpeg.
    expect((await missing.generate({ jobId: 'j', kind: 'poem', prompt: 'x', options: {}, inputs: [] }, never)).type).toBe('text');
    expect(await readdir(workDir)).toEqual([]);
  });
});

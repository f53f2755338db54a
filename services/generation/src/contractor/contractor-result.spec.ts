import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationRpc } from '@homiwork/contracts';
import { ContractorError, type ContractorResult } from './contractor.js';
import { MAX_TEXT_RESULT_CHARS, checkResult } from './contractor-result.js';
import { LocalContractor } from './local/local-contractor.js';

const run = promisify(execFile);
let dir: string;
const samples = new Map<string, Buffer>();

/** A short real file of each allowed type, encoded by ffmpeg. */
async function encode(name: string, args: string[]): Promise<void> {
  const output = join(dir, name);
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, output]);
  samples.set(name, await readFile(output));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'contractor-result-'));
  const tone = ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.3'];
  const frames = ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=0.6'];
  await encode('song.ogg', [...tone, '-c:a', 'libopus']);
  await encode('song.mp3', [...tone, '-c:a', 'libmp3lame']);
  await encode('song.wav', tone);
  await encode('video.mp4', [...frames, '-c:v', 'mpeg4']);
  await encode('video.webm', [...frames, '-c:v', 'libvpx']);
  samples.set('image.png', await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123' } }).png().toBuffer());
  samples.set('image.jpeg', await sharp(samples.get('image.png')).jpeg().toBuffer());
  samples.set('image.webp', await sharp(samples.get('image.png')).webp().toBuffer());
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = (mimeType: string, sample: string): ContractorResult => ({ type: 'file', mimeType, data: samples.get(sample)! });

async function refusal(kind: GenerationRpc.GenerationKind, result: ContractorResult): Promise<string> {
  const error = await checkResult(kind, result).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ContractorError);
  expect((error as ContractorError).code).toBe('invalid_result');
  return (error as ContractorError).message;
}

describe('checkResult', () => {
  it.each([
    ['image', 'image/png', 'image.png'],
    ['image', 'image/jpeg', 'image.jpeg'],
    ['image', 'image/webp', 'image.webp'],
    ['song', 'audio/ogg', 'song.ogg'],
    ['song', 'audio/opus', 'song.ogg'],
    ['song', 'audio/mpeg', 'song.mp3'],
    ['song', 'audio/wav', 'song.wav'],
    ['video', 'video/mp4', 'video.mp4'],
    ['video', 'video/webm', 'video.webm'],
  ] as const)('accepts a %s as %s with real bytes', async (kind, mimeType, sample) => {
    await expect(checkResult(kind, file(mimeType, sample))).resolves.toEqual(file(mimeType, sample));
  });

  it('accepts text for poems and texts', async () => {
    await expect(checkResult('poem', { type: 'text', text: 'Roses' })).resolves.toEqual({ type: 'text', text: 'Roses' });
    await expect(checkResult('text', { type: 'text', text: 'x'.repeat(MAX_TEXT_RESULT_CHARS) })).resolves.toBeDefined();
  });

  it('refuses the wrong shape, type, bytes or size', async () => {
    expect(await refusal('poem', file('image/png', 'image.png'))).toMatch(/must be text/);
    expect(await refusal('image', { type: 'text', text: 'a picture' })).toMatch(/must be a file/);
    expect(await refusal('text', { type: 'text', text: '   ' })).toMatch(/empty/);
    expect(await refusal('text', { type: 'text', text: 'x'.repeat(MAX_TEXT_RESULT_CHARS + 1) })).toMatch(/longer than/);
    expect(await refusal('image', file('image/gif', 'image.png'))).toMatch(/not an allowed type for image/);
    expect(await refusal('song', file('video/mp4', 'video.mp4'))).toMatch(/not an allowed type for song/);
    expect(await refusal('image', file('image/jpeg', 'image.png'))).toMatch(/bytes are not image\/jpeg/);
    expect(await refusal('video', file('video/webm', 'video.mp4'))).toMatch(/bytes are not video\/webm/);
    expect(await refusal('image', { type: 'file', mimeType: 'image/png', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') })).toMatch(/bytes are not/);
    expect(await refusal('image', { type: 'file', mimeType: 'image/png', data: Buffer.alloc(0) })).toMatch(/empty/);
  });

  it('accepts what the local contractor makes for every kind', async () => {
    const local = new LocalContractor({ tmpDir: dir });
    const never = new AbortController().signal;
    for (const kind of ['song', 'image', 'poem', 'text', 'video'] as const) {
      const result = await local.generate({ jobId: '00000000-0000-4000-8000-000000000000', kind, prompt: 'lemon trees by the sea', options: {}, inputs: [] }, never);
      await expect(checkResult(kind, result), kind).resolves.toBe(result);
    }
  }, 60_000);
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContractorError, type ContractorAdapter, type ContractorRequest, type ContractorResult } from '../contractor.js';
import { songArgs, videoArgs, type SongFormat, type VideoEncoder, type VideoPlan } from './av-encoding.js';
import { composeMelody, synthesize } from './melody.js';
import { renderPicture } from './picture.js';
import { composePoem } from './poem.js';
import { runFfmpeg } from './run-ffmpeg.js';
import { SeededRandom, themeWords } from './seed.js';
import { chooseTextStyle, composeText } from './texts.js';

export interface LocalContractorOptions {
  ffmpegPath?: string;
  /** Where a run that needs a seekable output file (MP4) gets its own directory, removed when it ends. */
  tmpDir?: string;
  /** Deadline of each ffmpeg or sharp run. */
  timeoutMs?: number;
}

export const SONG_SECONDS = 4;
export const VIDEO_PLAN: VideoPlan = { width: 320, height: 240, fps: 12, seconds: 3 };
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
const NEVER_ABORTED = new AbortController().signal;

interface Encoders {
  song: SongFormat | undefined;
  video: VideoEncoder;
}

/**
 * The default contractor: runs in this process, opens no connection, and makes real small
 * results — text from templates, a PNG drawn from shapes, a melody encoded with ffmpeg, a
 * few seconds of video — all seeded by a hash of the kind, style and prompt, so the same
 * request gives the same bytes and a different prompt a different result. It sees only
 * what the egress hands it, which is already anonymised.
 */
export class LocalContractor implements ContractorAdapter {
  readonly name = 'local' as const;
  private readonly ffmpegPath: string;
  private readonly tmpDir: string;
  private readonly timeoutMs: number;
  private encoders: Promise<Encoders> | undefined;

  constructor(options: LocalContractorOptions = {}) {
    this.ffmpegPath = options.ffmpegPath ?? '/usr/bin/ffmpeg';
    this.tmpDir = options.tmpDir ?? tmpdir();
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  async generate(request: ContractorRequest, signal: AbortSignal): Promise<ContractorResult> {
    signal.throwIfAborted();
    const random = SeededRandom.forRequest(request.kind, request.prompt, request.options.style);
    switch (request.kind) {
      case 'poem':
        return { type: 'text', text: composePoem(themeWords(request.prompt), random) };
      case 'text':
        return { type: 'text', text: composeText(chooseTextStyle(request.options.style, request.prompt), request.prompt, random) };
      case 'image': {
        const data = await renderPicture(request.inputs, random, this.timeoutMs);
        // sharp cannot be interrupted; a job aborted meanwhile still gets no result.
        signal.throwIfAborted();
        return { type: 'file', mimeType: 'image/png', data };
      }
      case 'song':
        return this.song(random, signal);
      case 'video':
        return this.video(random, signal);
    }
  }

  private async song(random: SeededRandom, signal: AbortSignal): Promise<ContractorResult> {
    const format = (await this.availableEncoders()).song;
    if (format === undefined) throw new ContractorError('contractor_unavailable', 'ffmpeg has neither an Opus nor an MP3 encoder');
    const pcm = synthesize(composeMelody(random, SONG_SECONDS), SONG_SECONDS);
    const data = await runFfmpeg(this.ffmpegPath, { args: songArgs(format), stdin: pcm, timeoutMs: this.timeoutMs, maxStdoutBytes: MAX_OUTPUT_BYTES, signal });
    const valid = format.mimeType === 'audio/ogg' ? data.subarray(0, 4).toString('latin1') === 'OggS' : data.length > 2 && data[0] === 0xff && (data[1]! & 0xe0) === 0xe0;
    if (!valid) throw new ContractorError('invalid_result', 'The local contractor produced no audio');
    return { type: 'file', mimeType: format.mimeType, data };
  }

  private async video(random: SeededRandom, signal: AbortSignal): Promise<ContractorResult> {
    const encoder = (await this.availableEncoders()).video;
    const pcm = synthesize(composeMelody(random, VIDEO_PLAN.seconds), VIDEO_PLAN.seconds);
    const workDir = await mkdtemp(join(this.tmpDir, 'local-contractor-'));
    try {
      const output = join(workDir, 'video.mp4');
      await runFfmpeg(this.ffmpegPath, { args: videoArgs(VIDEO_PLAN, encoder, random, output), stdin: pcm, timeoutMs: this.timeoutMs, maxStdoutBytes: 64 * 1024, signal });
      const data = await readFile(output);
      if (data.length > MAX_OUTPUT_BYTES || data.subarray(4, 8).toString('latin1') !== 'ftyp') throw new ContractorError('invalid_result', 'The local contractor produced no MP4 video');
      return { type: 'file', mimeType: 'video/mp4', data };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * Which encoders this ffmpeg build has (Debian's has libopus and libx264; others may not),
   * asked once. The look-up is shared by concurrent jobs, so no one job's signal can abort
   * it; its deadline bounds it.
   */
  private availableEncoders(): Promise<Encoders> {
    this.encoders ??= runFfmpeg(this.ffmpegPath, { args: ['-hide_banner', '-loglevel', 'error', '-encoders'], timeoutMs: this.timeoutMs, maxStdoutBytes: 1024 * 1024, signal: NEVER_ABORTED }).then(
      (listing) => {
        const names = new Set(listing.toString('utf8').split('\n').map((line) => line.trim().split(/\s+/)[1]));
        const song: SongFormat | undefined = names.has('libopus') ? { encoder: 'libopus', mimeType: 'audio/ogg' } : names.has('libmp3lame') ? { encoder: 'libmp3lame', mimeType: 'audio/mpeg' } : undefined;
        return { song, video: names.has('libx264') ? 'libx264' : 'mpeg4' };
      },
      (error: unknown) => {
        // A failed look-up (ffmpeg missing or stuck) is tried again by the next job.
        this.encoders = undefined;
        throw error;
      },
    );
    return this.encoders;
  }
}

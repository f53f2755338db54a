import { rm, stat } from 'node:fs/promises';
import { audioArgs, ffprobeArgs, videoArgs } from './ffmpeg-args.js';
import { parseProbeReport, type MediaProbe } from './media-probe.js';
import { runProcess, type ProcessOutcome } from './run-process.js';
import { UploadRejected } from './upload-rejected.js';

export interface AvTransformerOptions {
  ffmpegPath?: string;
  ffprobePath?: string;
  /** Deadline of each ffprobe/ffmpeg run; at the deadline the process is SIGKILLed. */
  timeoutMs?: number;
  maxAudioSeconds?: number;
  maxVideoSeconds?: number;
  /** Largest accepted width × height of the input video (8K by default): decoding allocates frames that big. */
  maxVideoPixels?: number;
}

export interface TransformedAudio {
  durationMs: number;
  bytes: number;
  mime: 'audio/mp4';
}

export interface TransformedVideo {
  durationMs: number;
  width: number;
  height: number;
  bytes: number;
  mime: 'video/mp4';
}

const DURATION_GRACE_MS = 500;

/**
 * R3.3: audio and video are re-encoded (AAC in MP4; H.264 ≤ 720p in MP4) with every tag,
 * chapter and extra stream dropped, and bounded in length. Inputs longer than the maximum
 * are refused rather than silently cut, so the user knows what happened.
 */
export class AvTransformer {
  private readonly ffmpeg: string;
  private readonly ffprobe: string;
  private readonly timeoutMs: number;
  private readonly maxAudioSeconds: number;
  private readonly maxVideoSeconds: number;
  private readonly maxVideoPixels: number;

  constructor(options: AvTransformerOptions = {}) {
    this.ffmpeg = options.ffmpegPath ?? '/usr/bin/ffmpeg';
    this.ffprobe = options.ffprobePath ?? '/usr/bin/ffprobe';
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxAudioSeconds = options.maxAudioSeconds ?? 600;
    this.maxVideoSeconds = options.maxVideoSeconds ?? 300;
    this.maxVideoPixels = options.maxVideoPixels ?? 8192 * 4320;
  }

  async probe(path: string): Promise<MediaProbe> {
    const outcome = await runProcess(this.ffprobe, ffprobeArgs(path), { timeoutMs: this.timeoutMs });
    this.assertSucceeded(outcome, path);
    try {
      return parseProbeReport(outcome.stdout);
    } catch {
      throw unreadable('ffprobe report could not be parsed');
    }
  }

  async transformAudio(inputPath: string, outputPath: string): Promise<TransformedAudio> {
    const input = await this.probe(inputPath);
    if (!input.hasAudio) throw new UploadRejected(422, 'no_audio_stream', 'The file contains no audio');
    this.assertDuration(input, this.maxAudioSeconds);
    await this.encode(audioArgs(inputPath, outputPath, this.maxAudioSeconds), inputPath, outputPath);
    const output = await this.probeOutput(outputPath);
    return { durationMs: output.durationMs, bytes: (await stat(outputPath)).size, mime: 'audio/mp4' };
  }

  async transformVideo(inputPath: string, outputPath: string): Promise<TransformedVideo> {
    const input = await this.probe(inputPath);
    if (!input.hasVideo) throw new UploadRejected(422, 'no_video_stream', 'The file contains no video');
    if ((input.width ?? 0) * (input.height ?? 0) > this.maxVideoPixels) {
      throw new UploadRejected(413, 'video_too_large', 'The video frame is too large');
    }
    this.assertDuration(input, this.maxVideoSeconds);
    await this.encode(videoArgs(inputPath, outputPath, this.maxVideoSeconds), inputPath, outputPath);
    const output = await this.probeOutput(outputPath);
    if (!output.width || !output.height) throw unreadable('the transcoded file has no video size');
    return { durationMs: output.durationMs, width: output.width, height: output.height, bytes: (await stat(outputPath)).size, mime: 'video/mp4' };
  }

  private assertDuration(probe: MediaProbe, maxSeconds: number): void {
    // An undeclared duration is let through: `-t` then cuts the encode at the maximum. The
    // half-second grace keeps a clip recorded "up to the limit" (300.04 s) from being refused.
    if (probe.durationMs !== null && probe.durationMs > maxSeconds * 1000 + DURATION_GRACE_MS) {
      throw new UploadRejected(413, 'too_long', `The file is longer than the ${formatSeconds(maxSeconds)} limit`);
    }
  }

  private async encode(args: string[], inputPath: string, outputPath: string): Promise<void> {
    const outcome = await runProcess(this.ffmpeg, args, { timeoutMs: this.timeoutMs });
    try {
      this.assertSucceeded(outcome, inputPath, outputPath);
    } catch (error) {
      // A half-written output is not a result; leave nothing for a caller to store by mistake.
      await rm(outputPath, { force: true });
      throw error;
    }
  }

  private async probeOutput(path: string): Promise<MediaProbe & { durationMs: number }> {
    const probe = await this.probe(path);
    if (probe.durationMs === null) throw unreadable('the transcoded file has no duration');
    return { ...probe, durationMs: probe.durationMs };
  }

  private assertSucceeded(outcome: ProcessOutcome, ...paths: string[]): void {
    if (outcome.timedOut) throw new UploadRejected(422, 'processing_timeout', 'The file took too long to process');
    if (outcome.overflowed) throw unreadable('ffprobe report too large');
    if (outcome.exitCode !== 0) throw unreadable(scrubDetail(outcome.stderrTail, paths));
  }
}

function unreadable(detail: string): UploadRejected {
  return new UploadRejected(422, 'unreadable_media', 'The file could not be read as audio or video', detail);
}

/**
 * One short line of ffmpeg's complaint for the logs: paths (which name users' temporary
 * directories) and memory addresses are replaced, anything unprintable dropped.
 */
export function scrubDetail(stderr: string, paths: readonly string[]): string {
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  let line = lines.at(-1) ?? 'no diagnostic';
  for (const path of paths) line = line.split(`file:${path}`).join('<file>').split(path).join('<file>');
  line = line.replace(/[^\x20-\x7e]/g, '').replace(/0x[0-9a-f]+/gi, '0x…');
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function formatSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minute${seconds === 60 ? '' : 's'}` : `${seconds} second${seconds === 1 ? '' : 's'}`;
}

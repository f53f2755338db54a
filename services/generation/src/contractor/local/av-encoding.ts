import type { SeededRandom } from './seed.js';
import { SAMPLE_RATE } from './melody.js';

// No metadata fields, no encoder version, and byte-identical output for identical input
// (bitexact: no random Ogg serial number, no version string).
const NO_METADATA = ['-map_metadata', '-1', '-map_chapters', '-1', '-map_metadata:s:v', '-1', '-map_metadata:s:a', '-1', '-fflags', '+bitexact'];
// One thread, as media's transcoding: on 2 cores, more threads per job add no throughput
// across concurrent jobs, they only let one job take both cores from everything else.
const GLOBAL = ['-hide_banner', '-loglevel', 'error', '-nostats', '-filter_threads', '1'];
const PCM_FROM_STDIN = ['-f', 's16le', '-ar', String(SAMPLE_RATE), '-ac', '1', '-i', 'pipe:0'];

export type SongFormat = { readonly encoder: 'libopus'; readonly mimeType: 'audio/ogg' } | { readonly encoder: 'libmp3lame'; readonly mimeType: 'audio/mpeg' };
export type VideoEncoder = 'libx264' | 'mpeg4';

/** Opus in Ogg (preferred) or MP3, from PCM on stdin to stdout. */
export function songArgs(format: SongFormat): string[] {
  const codec =
    format.encoder === 'libopus'
      ? ['-c:a', 'libopus', '-b:a', '64k', '-application', 'audio', '-flags:a', '+bitexact', '-f', 'ogg']
      : ['-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '0', '-id3v2_version', '0', '-flags:a', '+bitexact', '-f', 'mp3'];
  return [...GLOBAL, ...PCM_FROM_STDIN, '-map', '0:a', '-threads', '1', ...codec, ...NO_METADATA, 'pipe:1'];
}

export interface VideoPlan {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly seconds: number;
}

function hex(random: SeededRandom): string {
  return `0x${random.uint32().toString(16).padStart(8, '0').slice(0, 6)}`;
}

/**
 * Frames from ffmpeg's own sources — a slowly turning `gradients` field in seeded colours
 * with a seeded square orbiting over it — plus the melody (PCM on stdin) as AAC, into an MP4
 * at `output` with the index at the front (`+faststart`, which needs a seekable file, hence
 * not stdout). Only numbers we generate go into the filter graph; no request text does.
 */
export function videoArgs(plan: VideoPlan, encoder: VideoEncoder, random: SeededRandom, output: string): string[] {
  const { width, height, fps, seconds } = plan;
  const colours = [hex(random), hex(random), hex(random)];
  const gradients = `gradients=s=${width}x${height}:r=${fps}:d=${seconds}:n=3:c0=${colours[0]}:c1=${colours[1]}:c2=${colours[2]}:type=${random.int(0, 3)}:speed=${random.between(0.01, 0.05).toFixed(4)}:seed=${random.seed31()}`;
  const side = Math.round(Math.min(width, height) * random.between(0.15, 0.3));
  const square = `color=c=${hex(random)}:s=${side}x${side}:r=${fps}:d=${seconds}`;
  const radiusX = Math.round((width - side) * random.between(0.2, 0.45));
  const radiusY = Math.round((height - side) * random.between(0.2, 0.45));
  const period = random.between(1.5, seconds).toFixed(3);
  const phase = random.between(0, 2 * Math.PI).toFixed(3);
  const orbit = `overlay=x='(W-w)/2+${radiusX}*cos(2*PI*t/${period}+${phase})':y='(H-h)/2+${radiusY}*sin(2*PI*t/${period}+${phase})':eof_action=endall`;
  const video =
    encoder === 'libx264'
      ? // The bitstream filter drops x264's SEI message, which spells out the encoder build and every setting.
        ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '28', '-profile:v', 'main', '-bsf:v', 'filter_units=remove_types=6']
      : ['-c:v', 'mpeg4', '-q:v', '5'];
  return [
    ...GLOBAL,
    '-f', 'lavfi', '-i', gradients,
    '-f', 'lavfi', '-i', square,
    ...PCM_FROM_STDIN,
    '-filter_complex', `[0:v][1:v]${orbit},format=yuv420p[v]`,
    '-map', '[v]', '-map', '2:a',
    ...video, '-pix_fmt', 'yuv420p', '-g', String(fps * 2), '-flags:v', '+bitexact', '-threads', '1',
    '-c:a', 'aac', '-b:a', '64k', '-flags:a', '+bitexact',
    '-t', String(seconds),
    ...NO_METADATA,
    '-movflags', '+faststart',
    '-f', 'mp4', '-y', `file:${output}`,
  ];
}

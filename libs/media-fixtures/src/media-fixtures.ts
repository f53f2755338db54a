import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pseudoRandomBytes, u32be } from './binary-builders.js';

const run = promisify(execFile);
export const FFMPEG = '/usr/bin/ffmpeg';
export const FFPROBE = '/usr/bin/ffprobe';

/** Tags planted in the audio/video fixtures; none may survive a transformation. */
export const PLANTED_TAGS = {
  title: 'Secret Title',
  artist: 'Jane Tag-Artist',
  comment: 'call jane.doe@example.com',
  creation_time: '2021-06-15T10:11:12.000000Z',
  location: '+48.8584+002.2945/',
  handler: 'Jane Phone Camera',
} as const;

const TAG_ARGS = ['title', 'artist', 'comment', 'creation_time'].flatMap((key) => ['-metadata', `${key}=${PLANTED_TAGS[key as keyof typeof PLANTED_TAGS]}`]);

async function ffmpeg(args: string[]): Promise<void> {
  await run(FFMPEG, ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args]);
}

/**
 * 2 s of 1280×960 test pattern and a tone in MP4, with title, artist, comment, creation
 * time, an ISO 6709 location and a named video handler.
 */
export async function mp4WithTags(dir: string): Promise<string> {
  const path = join(dir, 'tagged.mp4');
  await ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc=size=1280x960:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-shortest'],
    ...TAG_ARGS,
    ...['-metadata', `location=${PLANTED_TAGS.location}`, '-metadata:s:v:0', `handler_name=${PLANTED_TAGS.handler}`],
    path,
  ]);
  return path;
}

/** 2 s tone in MP3 with ID3v2.3 and ID3v1 tags. */
export async function mp3WithTags(dir: string): Promise<string> {
  const path = join(dir, 'tagged.mp3');
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:duration=2', '-c:a', 'libmp3lame', '-b:a', '64k', '-id3v2_version', '3', '-write_id3v1', '1', ...TAG_ARGS, path]);
  return path;
}

/** 1 s tone in MP3 with an embedded cover picture (ID3 APIC), which players show as album art. */
export async function mp3WithCoverArt(dir: string): Promise<string> {
  const path = join(dir, 'cover-art.mp3');
  await ffmpeg([
    ...['-f', 'lavfi', '-i', 'sine=frequency=330:duration=1', '-f', 'lavfi', '-i', 'color=c=red:s=64x64:d=1'],
    ...['-map', '0:a', '-map', '1:v', '-frames:v', '1', '-c:a', 'libmp3lame', '-c:v', 'mjpeg', '-disposition:v', 'attached_pic', '-id3v2_version', '3'],
    path,
  ]);
  return path;
}

/** A phone-style portrait clip: 1920×1080 frames with a 90° rotation in the container, 1 s, no audio. */
export async function portraitMp4(dir: string): Promise<string> {
  const unrotated = join(dir, 'portrait-unrotated.mp4');
  const path = join(dir, 'portrait.mp4');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', unrotated]);
  // ffmpeg 5.1 writes the rotation matrix only when stream-copying.
  await ffmpeg(['-i', unrotated, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', path]);
  return path;
}

export type TinyAudioFormat = 'wav' | 'opus' | 'ogg' | 'flac' | 'm4a' | 'aac';

const AUDIO_CODECS: Record<TinyAudioFormat, string[]> = {
  wav: ['-c:a', 'pcm_s16le'],
  opus: ['-c:a', 'libopus'],
  ogg: ['-c:a', 'libvorbis'],
  flac: ['-c:a', 'flac'],
  m4a: ['-c:a', 'aac'],
  aac: ['-c:a', 'aac', '-f', 'adts'],
};

/** Half a second of tone in one of the accepted audio formats. */
export async function tinyAudio(dir: string, format: TinyAudioFormat): Promise<string> {
  const path = join(dir, `tiny.${format}`);
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=500:duration=0.5', ...AUDIO_CODECS[format], path]);
  return path;
}

/** Half a second of 160×120 video: WebM (VP8) or QuickTime MOV (H.264). */
export async function tinyVideo(dir: string, format: 'webm' | 'mov'): Promise<string> {
  const path = join(dir, `tiny.${format}`);
  const codec = format === 'webm' ? ['-c:v', 'libvpx', '-deadline', 'realtime'] : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=0.5', ...codec, path]);
  return path;
}

/** 64 KB of noise: no container, no codec. */
export async function garbageMedia(dir: string): Promise<string> {
  const path = join(dir, 'garbage.bin');
  await writeFile(path, pseudoRandomBytes(64 * 1024));
  return path;
}

/** An MP4 `ftyp` box followed by noise: passes the sniffer as MP4, cannot be decoded. */
export async function fakeMp4(dir: string): Promise<string> {
  const ftyp = Buffer.concat([u32be(24), Buffer.from('ftypisom', 'latin1'), u32be(512), Buffer.from('isomavc1', 'latin1')]);
  const path = join(dir, 'fake.mp4');
  await writeFile(path, Buffer.concat([ftyp, pseudoRandomBytes(32 * 1024, 7)]));
  return path;
}

/** ffprobe's view of a file, as the tests inspect it. */
export async function ffprobeJson(path: string): Promise<ProbeJson> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_format', '-show_streams', '-show_chapters', '-of', 'json', path]);
  return JSON.parse(stdout) as ProbeJson;
}

export interface ProbeJson {
  format: { duration?: string; format_name: string; tags?: Record<string, string> };
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; tags?: Record<string, string>; side_data_list?: Array<Record<string, unknown>> }>;
  chapters: unknown[];
}

/** Every tag of the file, format and streams, as `key=value` strings. */
export function allTags(probe: ProbeJson): string[] {
  const entries = [probe.format.tags ?? {}, ...probe.streams.map((stream) => stream.tags ?? {})].flatMap((tags) => Object.entries(tags));
  return entries.map(([key, value]) => `${key}=${value}`);
}

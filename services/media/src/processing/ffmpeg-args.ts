/**
 * Argument lists for ffprobe and ffmpeg, kept apart from process handling so each choice
 * is visible in one place.
 */

// Demuxers of the accepted containers. ffmpeg probes the bytes itself, so without this
// list a file that passed the sniffer could still be read as, say, an HLS playlist that
// pulls other local files into the output.
const INPUT_GUARDS = ['-format_whitelist', 'mov,mp4,m4a,matroska,webm,mp3,wav,ogg,flac,aac', '-protocol_whitelist', 'file'];

// One thread per process, deliberately: the server has 2 cores, and x264 and the decoders
// scale nearly linearly, so extra threads add no throughput across requests — they only
// let one video take both cores from the event loop, image work and the database.
// Given before the input it applies to decoding, after it to encoding.
const ONE_THREAD = ['-threads', '1'];

const GLOBAL = ['-nostdin', '-hide_banner', '-v', 'error', '-filter_threads', '1'];

// Nothing of the original's metadata survives: global tags, chapters (they carry titles)
// and per-stream tags (handler names, device strings). In ffmpeg 5.1 `-map_metadata -1`
// alone already stops the per-stream copy; the explicit `:s:` forms do not rely on that.
// bitexact: no encoder version is written by us.
const STRIP_METADATA = ['-map_metadata', '-1', '-map_chapters', '-1', '-map_metadata:s:v', '-1', '-map_metadata:s:a', '-1', '-fflags', '+bitexact'];

const AAC = ['-c:a', 'aac', '-b:a', '128k', '-flags:a', '+bitexact'];
const MP4_OUT = ['-f', 'mp4', '-movflags', '+faststart'];

/** Fits inside 1280×720 (landscape) or 720×1280 (portrait), never upscales, even sides for yuv420p. */
const BOUND_TO_720P =
  "scale=w='if(gte(iw,ih),min(1280,iw),min(720,iw))':h='if(gte(iw,ih),min(720,ih),min(1280,ih))'" +
  ':force_original_aspect_ratio=decrease:force_divisible_by=2';

export function ffprobeArgs(input: string): string[] {
  return ['-hide_banner', '-v', 'error', ...INPUT_GUARDS, '-show_format', '-show_streams', '-of', 'json', `file:${input}`];
}

export function audioArgs(input: string, output: string, maxSeconds: number): string[] {
  return [
    ...GLOBAL,
    ...ONE_THREAD,
    ...INPUT_GUARDS,
    ...['-i', `file:${input}`],
    // First audio stream only: cover art, video, subtitles, data and attachments are dropped.
    ...['-map', '0:a:0', ...STRIP_METADATA],
    // A safety net only: longer inputs are refused after probing, before ffmpeg runs.
    ...['-t', String(maxSeconds)],
    ...AAC,
    ...ONE_THREAD,
    ...MP4_OUT,
    ...['-y', `file:${output}`],
  ];
}

export function videoArgs(input: string, output: string, maxSeconds: number): string[] {
  return [
    ...GLOBAL,
    ...ONE_THREAD,
    ...INPUT_GUARDS,
    ...['-i', `file:${input}`],
    // `V` (not `v`) skips attached pictures; the audio is optional; nothing else is kept.
    ...['-map', '0:V:0', '-map', '0:a:0?', ...STRIP_METADATA],
    ...['-t', String(maxSeconds)],
    // Rotation metadata is applied (ffmpeg autorotates) before the scale, so portrait stays
    // portrait; the frame rate is capped so a 240 fps slow-motion clip costs what 30 fps does.
    ...['-vf', BOUND_TO_720P, '-fpsmax', '30'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '26', '-pix_fmt', 'yuv420p', '-flags:v', '+bitexact'],
    // Drops x264's SEI message, which spells out the encoder build and every setting.
    ...['-bsf:v', 'filter_units=remove_types=6'],
    ...AAC,
    ...ONE_THREAD,
    ...MP4_OUT,
    ...['-y', `file:${output}`],
  ];
}

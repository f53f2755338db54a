import { z } from 'zod';

export interface MediaProbe {
  /** `null` when the container does not declare it (MediaRecorder WebM, some raw streams). */
  durationMs: number | null;
  hasVideo: boolean;
  hasAudio: boolean;
  /** Display size of the first video stream, rotation applied. */
  width?: number;
  height?: number;
}

const seconds = z.union([z.string(), z.number()]).optional();

const streamSchema = z.object({
  codec_type: z.string().optional(),
  width: z.number().int().nonnegative().optional(),
  height: z.number().int().nonnegative().optional(),
  duration: seconds,
  disposition: z.object({ attached_pic: z.number().optional() }).optional(),
  tags: z.record(z.string(), z.unknown()).optional(),
  side_data_list: z.array(z.object({ rotation: z.number().optional() })).optional(),
});

const reportSchema = z.object({
  streams: z.array(streamSchema).default([]),
  format: z.object({ duration: seconds }).optional(),
});

type ProbedStream = z.infer<typeof streamSchema>;

/** Turns ffprobe's `-show_format -show_streams -of json` output into what the transformer needs. */
export function parseProbeReport(json: string): MediaProbe {
  const report = reportSchema.parse(JSON.parse(json));
  // Cover art in an MP3 or M4A is a "video" stream holding one picture; it is not video.
  const videos = report.streams.filter((stream) => stream.codec_type === 'video' && stream.disposition?.attached_pic !== 1);
  const hasAudio = report.streams.some((stream) => stream.codec_type === 'audio');
  const durations = [report.format?.duration, ...report.streams.map((stream) => stream.duration)].map(toMilliseconds).filter((ms) => ms !== null);
  const probe: MediaProbe = { durationMs: durations.length > 0 ? Math.max(...durations) : null, hasVideo: videos.length > 0, hasAudio };
  const first = videos[0];
  if (first?.width && first.height) Object.assign(probe, displaySize(first, first.width, first.height));
  return probe;
}

function toMilliseconds(value: string | number | undefined): number | null {
  const parsed = typeof value === 'number' ? value : Number.parseFloat(value ?? '');
  return Number.isFinite(parsed) && parsed >= 0 ? Math.round(parsed * 1000) : null;
}

/** Phones store portrait video as landscape frames plus a rotation; ffmpeg applies it when transcoding. */
function displaySize(stream: ProbedStream, width: number, height: number): { width: number; height: number } {
  const rotation = stream.side_data_list?.find((entry) => entry.rotation !== undefined)?.rotation ?? Number.parseFloat(typeof stream.tags?.rotate === 'string' ? stream.tags.rotate : '0');
  const quarterTurns = Math.round(rotation / 90);
  return quarterTurns % 2 !== 0 ? { width: height, height: width } : { width, height };
}

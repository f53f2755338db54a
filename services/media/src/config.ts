import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { moderationConfigShape } from '@homiwork/moderation';

const megabytes = (fallback: number) => z.coerce.number().positive().max(2048).default(fallback).transform((mb) => Math.round(mb * 1024 * 1024));

export const mediaConfigSchema = withTestOnlyClockControl(
  databaseServiceConfig.extend({
    /** http(s)://[ACCESS:SECRET@]host:port — the object store for transformed files (keys in the URL or below). */
    S3_URL: z.url().refine((value) => /^https?:$/.test(new URL(value).protocol), { message: 'must use http or https' }),
    S3_BUCKET: z.string().min(3).default('homiwork'),
    /** Credentials given apart from the URL (as the compose file does) take precedence. */
    S3_ACCESS_KEY: z.string().optional(),
    S3_SECRET_KEY: z.string().optional(),
    /** Shared with the gateway: the internal byte endpoints refuse any other caller. */
    INTERNAL_API_TOKEN: z.string().min(32, 'must be at least 32 characters'),
    /** Where uploads wait while they are transformed; emptied after every request. */
    MEDIA_TMP_DIR: z.string().default(join(tmpdir(), 'homiwork-media')),
    MEDIA_MAX_IMAGE_MB: megabytes(25),
    MEDIA_MAX_AUDIO_MB: megabytes(50),
    MEDIA_MAX_VIDEO_MB: megabytes(200),
    MEDIA_MAX_TEXT_MB: megabytes(1),
    // The same settings generation reads, so one setting serves both.
    ...moderationConfigShape,
    /** Safety net for §5.3: how often media itself deletes uploads past their 7 days. */
    UPLOAD_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(600_000),
  }),
);
export type MediaConfig = z.infer<typeof mediaConfigSchema>;

/**
 * The injection token of media's parsed configuration: `@Inject(MediaConfig) private
 * readonly config: MediaConfig` — typed, no cast. MediaModule provides it.
 */
export const MediaConfig = Symbol('MediaConfig');

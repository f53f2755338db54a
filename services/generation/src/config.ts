import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { moderationConfigShape } from '@homiwork/moderation';
import { RETENTION_SCHEDULE } from '@homiwork/contracts';
import { MAX_SIGNED_URL_SECONDS } from '@homiwork/storage';
import { contractorConfigShape, withContractorRules } from './contractor/contractor-config.js';

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const httpUrl = z.url().refine((value) => /^https?:$/.test(new URL(value).protocol), { message: 'must use http or https' });

const generationSettings = databaseServiceConfig.extend({
  /** http(s)://[ACCESS:SECRET@]host:port — where generated files are kept (`generation/<userId>/<contentId>`). */
  S3_URL: httpUrl,
  S3_BUCKET: z.string().min(3).default('homiwork'),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  /** Media's internal byte API, where the transformed bytes of input uploads are read (never the originals: media keeps none). */
  MEDIA_INTERNAL_URL: httpUrl,
  /** Shared with the gateway and media: media's internal byte API refuses any other caller. */
  INTERNAL_API_TOKEN: z.string().min(32, 'must be at least 32 characters'),
  ...contractorConfigShape,
  // The same settings media reads, so one setting serves uploads, prompts and results.
  ...moderationConfigShape,
  /** Jobs one instance runs at once; the rest wait queued (in PostgreSQL, so a restart loses none). */
  GENERATION_CONCURRENCY: int(1, 64, 2),
  /** How often an idle runner looks for work another instance queued (its own wakes it at once). */
  GENERATION_POLL_INTERVAL_MS: int(20, 60_000, 1_000),
  /**
   * How long a claimed job is the claimer's; renewed every third of it while the job runs,
   * so only a process that stopped (crash, kill) lets it lapse, and then another takes the job over.
   */
  GENERATION_LEASE_MS: int(1_000, 3_600_000, 60_000),
  /** Claims of one job before it is failed (and its energy refunded): a job that crashes its process every time stops there. */
  GENERATION_MAX_ATTEMPTS: int(1, 10, 3),
  /** A job still unreserved this long after it was queued was left by a crash between insert and reservation: the sweep fails it. */
  GENERATION_UNRESERVED_AFTER_MS: int(1_000, 86_400_000, 120_000),
  /**
   * Largest total of one job's input uploads sent to a contractor, in MB (media's largest
   * kind, video, is 200 MB): refused at creation by media's sizes, enforced again while the
   * bytes are read. A job holds its inputs in memory and the http adapter base64-encodes
   * them, so this bounds each job's memory, not only each file.
   */
  GENERATION_MAX_INPUT_MB: z.coerce.number().positive().max(2048).default(50).transform((mb) => Math.round(mb * 1024 * 1024)),
  /**
   * §5.4: content of a user without Prime is deleted this many days after it was created
   * (or after their last Prime period ended, whichever is later). The policy says 2–4 months;
   * the default is the schedule's (libs/contracts/src/retention-schedule.ts), which retention's clock uses too.
   */
  CONTENT_RETENTION_DAYS: int(60, 120, RETENTION_SCHEDULE.generatedContent.days),
  /** §5.4: deleted content can be restored for this many days, then it is removed for good (default: the schedule's). */
  CONTENT_TRASH_DAYS: int(1, 30, RETENTION_SCHEDULE.deletedContent.days),
  /** A finished job's record (status, error, content id; its prompt is gone already) is kept this long for polling, then deleted. */
  JOB_RECORD_DAYS: int(1, 365, 30),
  /**
   * For how many days after a user's erasure each sweep still empties their prefix, removing
   * a result object that landed after the purge (a put completed late, a crash before its removal).
   */
  ERASED_OBJECTS_SWEEP_DAYS: int(1, 30, 2),
  /** How often generation itself removes content past its expiry or its days in the trash, and fails abandoned jobs. */
  CONTENT_SWEEP_INTERVAL_MS: int(100, 86_400_000, 600_000),
  /**
   * The longest a chat reply may take in the egress (all of the contractor's attempts); then
   * it is abandoned and answered 502 `reply_failed`. Chat's call to chat.reply must wait longer.
   */
  CHAT_REPLY_TIMEOUT_MS: int(1_000, 300_000, 30_000),
  /** Lifetime of the signed URL GET /v1/contents/:id/file hands out (at most 15 minutes). */
  CONTENT_URL_SECONDS: int(1, MAX_SIGNED_URL_SECONDS, 300),
});

/** Generation's environment, validated at boot: a missing or bad setting stops it with one line. */
export const generationConfigSchema = withTestOnlyClockControl(
  withContractorRules(
    generationSettings.refine((config) => config.GENERATION_UNRESERVED_AFTER_MS > config.RPC_TIMEOUT_MS * 2, {
      // A reservation still on its way must not be overtaken by the sweep that fails its job.
      message: 'must be more than twice RPC_TIMEOUT_MS',
      path: ['GENERATION_UNRESERVED_AFTER_MS'],
    }),
  ),
);
export type GenerationConfig = z.infer<typeof generationConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(GenerationConfig) config: GenerationConfig`. */
export const GenerationConfig = Symbol('GenerationConfig');

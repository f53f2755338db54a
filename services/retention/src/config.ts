import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { DATA_OWNING_SERVICES } from '@homiwork/contracts';
import { checkDataKeysConfig, dataKeysConfigShape } from '@homiwork/data-keys';

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const httpUrl = z.url().refine((value) => /^https?:$/.test(new URL(value).protocol), { message: 'must use http or https' });

const retentionSettings = databaseServiceConfig.extend({
  /**
   * The services every erasure waits for a PurgeCompleted from, comma-separated: set from
   * the service manifest (`erasureServices()`, entries with `holdsUserData`) by `npm start`,
   * the tests and the deployment files — never a list kept by hand here.
   */
  ERASURE_SERVICES: z
    .string()
    .min(1)
    .transform((value) => value.split(',').map((name) => name.trim()))
    .pipe(z.array(z.enum(DATA_OWNING_SERVICES)).min(1)),
  /**
   * Ed25519 keys signing erasure receipts: `<kid>:<base64 of the PKCS#8 DER private key>`,
   * comma-separated; the first signs, the others are retired (served for verification only).
   */
  RECEIPT_SIGNING_KEYS: z.string().min(1),
  /** Export archives are sealed with a one-off key wrapped by these master keys (libs/data-keys' format). */
  ...dataKeysConfigShape,
  /** http(s)://[ACCESS:SECRET@]host:port — where export archives are kept (`retention/exports/<userId>/<exportId>`), encrypted. */
  S3_URL: httpUrl,
  S3_BUCKET: z.string().min(3).default('homiwork'),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  /** The gateway's public address: export download links point there. */
  PUBLIC_API_URL: httpUrl.default('http://127.0.0.1:8080'),
  /** How often the policy clock looks for due items (a due item fires within this of its time). */
  RETENTION_TICK_MS: int(50, 3_600_000, 60_000),
  /** Due items per batch: one transaction, one burst of publishes. */
  RETENTION_BATCH_SIZE: int(1, 10_000, 1_000),
  /** The policy clock writes thousands of events per batch: the relay takes bigger bites than other services' (500). */
  OUTBOX_RELAY_BATCH_SIZE: int(1, 10_000, 2_000),
  /** How often overdue erasures and requests are looked for (metrics, logs). */
  RETENTION_AUDIT_INTERVAL_MS: int(100, 3_600_000, 60_000),
});

/** Retention's environment, validated at boot: a missing or bad setting stops it with one line. */
export const retentionConfigSchema = withTestOnlyClockControl(retentionSettings.superRefine(checkDataKeysConfig));
export type RetentionConfig = z.infer<typeof retentionConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(RetentionConfig) config: RetentionConfig`. */
export const RetentionConfig = Symbol('RetentionConfig');

import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { RETENTION_SCHEDULE } from '@homiwork/contracts';

const pem = (kind: string) => z.string().refine((value) => value.includes(`-----BEGIN ${kind}-----`), { message: `must be a PEM ${kind.toLowerCase()}` });

export const identityConfigSchema = withTestOnlyClockControl(
  databaseServiceConfig.extend({
    /** Ed25519 private key (PKCS#8 PEM) that signs access tokens; the gateway holds the public half. */
    JWT_PRIVATE_KEY: pem('PRIVATE KEY'),
    JWT_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/).default('k1'),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(900).default(300),
    REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(90).default(30),
    PASSWORD_RESET_TTL_MINUTES: z.coerce.number().int().min(5).max(120).default(30),
    /** Where the emailed reset link points (the web client's page). */
    PUBLIC_WEB_URL: z.url().default('http://localhost:3000'),
    SMTP_URL: z.url().refine((value) => /^smtps?:$/.test(new URL(value).protocol), { message: 'must use smtp or smtps' }),
    MAIL_FROM: z.email().default('no-reply@homiwork.com'),
    SECURITY_EVENT_PURGE_INTERVAL_MS: z.coerce.number().int().min(100).default(3_600_000),
    /** §5.6: how long security events (and their address hashes) are kept; the schedule's period unless overridden. */
    SECURITY_EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(RETENTION_SCHEDULE.securityEvents.days),
  }),
);
export type IdentityConfig = z.infer<typeof identityConfigSchema>;

/**
 * The injection token of identity's parsed configuration: `@Inject(IdentityConfig)
 * private readonly config: IdentityConfig` — typed, no cast. IdentityModule provides it.
 */
export const IdentityConfig = Symbol('IdentityConfig');

import { z } from 'zod';

/** A setting that is missing or malformed: the service must not start half-configured. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Validates the environment against a service's schema. The error names the first bad
 * setting and why, on one line, and never echoes its value (it may be a secret).
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // An empty setting is an unset one: Compose's `${VAR:-}` passes optional settings that way.
  const result = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const setting = issue.path.join('.') || '(environment)';
  const reason = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  throw new ConfigError(`config error: ${setting} ${reason}`);
}

/** For a service's main(): print the one line and exit non-zero, without a stack trace. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const urlWithProtocols = (protocols: string[]) =>
  z.url({ message: `must be a URL (${protocols.join(', ')})` }).refine((value) => protocols.includes(new URL(value).protocol.replace(/:$/, '')), {
    message: `must use ${protocols.join(' or ')}`,
  });

const isNatsServerUrl = (value: string): boolean => {
  try {
    const url = new URL(value.trim());
    return (url.protocol === 'nats:' || url.protocol === 'tls:') && url.hostname !== '';
  } catch {
    return false;
  }
};

/** Settings every service shares; a service extends this with its own. */
export const baseServiceConfig = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * One server, or several separated by commas (the members of a cluster): the client
   * connects to any of them and moves to another when its server goes away.
   */
  NATS_URL: z
    .string()
    .refine((value) => value.split(',').every(isNatsServerUrl), {
      message: 'must be a URL (nats, tls) or a comma-separated list of them',
    })
    .default('nats://127.0.0.1:4222'),
  /**
   * This service's own NATS user and password (deploy/nats/authorization.conf): the server
   * lets each user publish and subscribe only to what its service needs. Unset only against
   * a server without authentication (the test suite's); a server with users refuses it.
   */
  NATS_USER: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a service name (lower-case letters, digits, dashes)').optional(),
  NATS_PASSWORD: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Prefix of every subject and stream: lets test runs and environments share one NATS. */
  EVENT_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,30}$/, 'must be lower-case letters and digits, starting with a letter')
    .default('hw'),
  /**
   * Bytes the event stream may hold. JetStream reserves it on disk up front, so it must fit
   * the server's storage; production sets it to what 30 days of events need.
   */
  EVENT_STREAM_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(1024 ** 3),
  OPS_PORT: z.coerce.number().int().min(0).max(65535).default(9100),
  OPS_HOST: z.string().default('127.0.0.1'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** How long a request to another service may take before it answers 504 service_timeout. */
  RPC_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Lets the end-to-end suite move every service's clock; refused outside test mode. */
  CLOCK_CONTROL: z.enum(['enabled', 'disabled']).default('disabled'),
});

export type BaseServiceConfig = z.infer<typeof baseServiceConfig>;

/** For services that own a schema (all but the gateway). */
export const databaseServiceConfig = baseServiceConfig.extend({
  DATABASE_URL: urlWithProtocols(['postgres', 'postgresql']),
  /**
   * Outbox rows the relay publishes per transaction. A service that writes events in bursts
   * (retention's policy clock: thousands per batch) relays faster with bigger batches; the
   * cost is one transaction holding that many row locks while JetStream acknowledges.
   */
  OUTBOX_RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
});

/** Adds the rule that the clock switch exists only in test mode. */
export function withTestOnlyClockControl<S extends z.ZodType<BaseServiceConfig>>(schema: S) {
  return schema.refine((config) => config.CLOCK_CONTROL === 'disabled' || config.NODE_ENV === 'test', {
    message: 'may be enabled only when NODE_ENV=test',
    path: ['CLOCK_CONTROL'],
  });
}

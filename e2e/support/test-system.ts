import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { ApiClient } from '@homiwork/api-client';
import { clockControlSubject, type EventContract, type EventPayload } from '@homiwork/contracts';
import { publishStoredEvent, readStoredEvents } from '@homiwork/messaging';
import { startMailSink, type MailSink } from '@homiwork/mail/sink';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { createTestDatabase, createTestNamespace, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import { downstreamServices, erasureServices, freePort, generateDevSecrets, SERVICE_MANIFEST, Supervisor, type DevSecrets } from '@homiwork/system-runner';

export interface TestSystem {
  /** Base URLs of the gateway instances. */
  gateways: string[];
  namespace: string;
  database: TestDatabase;
  mail: MailSink;
  s3: LocalS3;
  secrets: DevSecrets;
  /** The supervisor running the services (status: pids, restarts). */
  supervisor: Supervisor;
  /** The ops listener (health, metrics, internal routes) of a service's first instance. */
  opsUrl(service: string): string;
  /** The environment the services were started with (secrets included: tests only). */
  env: NodeJS.ProcessEnv;
  /** Every line every service process wrote, for searching (personal data must never appear). */
  logs: string[];
  /** A client of the first gateway; `headers` lets a test speak as a given client address. */
  api(options?: { token?: string; headers?: Record<string, string>; gateway?: number }): ApiClient;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  /** Every payload of this event type in the namespace's event stream, oldest first. */
  events<E extends EventContract>(event: E): Promise<Array<EventPayload<E>>>;
  /** Publishes an event as its producing service would (a duplicate, an event of a stand-in producer). */
  publish<E extends EventContract>(event: E, payload: EventPayload<E>): Promise<void>;
  /** Moves every service's clock forward (absolute offset from real time), in every process at once. */
  setClockOffset(offsetMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The settings every test system gives its services: its own database, NATS namespace, mail
 * sink and S3 server, development secrets, and the local payment processor.
 */
export function systemEnv(parts: { databaseUrl: string; natsUrl: string; namespace: string; mail: MailSink; s3: LocalS3; secrets: DevSecrets; publicApiUrl: string }): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    CLOCK_CONTROL: 'enabled',
    LOG_LEVEL: 'info',
    DATABASE_URL: parts.databaseUrl,
    NATS_URL: parts.natsUrl,
    EVENT_NAMESPACE: parts.namespace,
    SMTP_URL: parts.mail.smtpUrl,
    S3_URL: parts.s3.url,
    S3_BUCKET: parts.s3.config.bucket,
    ...parts.secrets,
    // Clients in tests name their address in X-Forwarded-For from loopback, as behind a proxy.
    TRUST_PROXY: 'loopback',
    DOWNSTREAM_SERVICES: downstreamServices(),
    ERASURE_SERVICES: erasureServices(),
    // JetStream reserves a stream's bytes up front (on each member of a cluster); test streams stay small.
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    // Billing hands out links to the API (checkout page, the local processor's webhook call).
    PUBLIC_API_URL: parts.publicApiUrl,
    // Neither has a default any more: tests buy through the local processor unless they name another.
    PAYMENT_PROCESSOR: 'local',
    LOCAL_CHECKOUT_PAGE: 'enabled',
  };
}

/**
 * Runs the real services as separate processes against the machine's PostgreSQL and
 * NATS, in a fresh database and NATS namespace, with a local mail sink and a clock the
 * test can move. Tests talk to it only over HTTP (and read the database or the bus only
 * to prove what is — or is not — stored there).
 */
export async function startTestSystem(options: { gateways?: number; env?: Record<string, string> } = {}): Promise<TestSystem> {
  const database = await createTestDatabase();
  const namespace = createTestNamespace();
  const mail = await startMailSink();
  const s3: LocalS3 = await startLocalS3();
  const secrets = generateDevSecrets();
  const logs: string[] = [];
  // Gateway ports are chosen first: billing hands out links to the API (checkout page, the
  // local processor's webhook call) and learns the first gateway's address from PUBLIC_API_URL.
  const gatewayPorts = await Promise.all(Array.from({ length: options.gateways ?? 1 }, () => freePort()));
  const env: NodeJS.ProcessEnv = {
    ...systemEnv({ databaseUrl: database.url, natsUrl: TEST_NATS_URL, namespace, mail, s3, secrets, publicApiUrl: `http://127.0.0.1:${gatewayPorts[0]}` }),
    SECURITY_EVENT_PURGE_INTERVAL_MS: '200',
    // Retention's policy clock looks for due items this often (a minute in production), so a
    // test that moves the clock sees the expiry events at once.
    RETENTION_TICK_MS: '250',
    RETENTION_AUDIT_INTERVAL_MS: '500',
    ...options.env,
  };
  const supervisor = new Supervisor({
    manifest: SERVICE_MANIFEST,
    env,
    ports: async (entry) => ({ opsPort: await freePort(), ...(entry.publicPort !== undefined ? { publicPort: gatewayPorts.shift() ?? (await freePort()) } : {}) }),
    copies: (entry) => (entry.publicPort !== undefined ? (options.gateways ?? 1) : 1),
    onLine: (_instance, line) => logs.push(line),
    say: (message) => logs.push(`[supervisor] ${message}`),
  });
  try {
    await supervisor.start();
  } catch (error) {
    await supervisor.stop();
    await mail.stop();
    await s3.stop();
    throw new Error(`test system failed to start: ${String(error)}\n${logs.slice(-20).join('\n')}`);
  }
  const gateways = supervisor.status().flatMap((instance) => (instance.publicUrl ? [instance.publicUrl] : []));
  const processCount = supervisor.status().length;

  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  let nc: NatsConnection | undefined;
  return {
    gateways,
    supervisor,
    opsUrl: (service) => {
      const instance = supervisor.status().find((candidate) => candidate.service === service);
      if (!instance) throw new Error(`no ${service} in the test system`);
      return instance.opsUrl;
    },
    env,
    namespace,
    database,
    mail,
    s3,
    secrets,
    logs,
    api: ({ token, headers, gateway } = {}) => new ApiClient({ baseUrl: gateways[gateway ?? 0]!, ...(token ? { accessToken: token } : {}), ...(headers ? { headers } : {}) }),
    sql: async <T>(query: string, params: unknown[] = []) => (await pool.query(query, params)).rows as T[],
    async events<E extends EventContract>(event: E) {
      nc ??= await connect({ servers: TEST_NATS_URL });
      return readStoredEvents(nc, namespace, event);
    },
    async publish<E extends EventContract>(event: E, payload: EventPayload<E>) {
      nc ??= await connect({ servers: TEST_NATS_URL });
      await publishStoredEvent(nc, namespace, event, payload);
    },
    async setClockOffset(offsetMs) {
      nc ??= await connect({ servers: TEST_NATS_URL });
      const replies = await nc.requestMany(clockControlSubject(namespace), JSON.stringify({ offsetMs }), { strategy: 'count', maxMessages: processCount, maxWait: 3_000 });
      let answered = 0;
      for await (const reply of replies) {
        const answer = reply.json<{ ok: boolean; error?: string }>();
        if (!answer.ok) throw new Error(`a service refused the clock move: ${answer.error}`);
        answered++;
      }
      if (answered !== processCount) throw new Error(`only ${answered} of ${processCount} services moved their clock`);
    },
    async stop() {
      await supervisor.stop();
      await nc?.close();
      await pool.end();
      await mail.stop();
      await s3.stop();
      await database.drop();
    },
  };
}

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { ApiClient } from '@homiwork/api-client';
import { clockControlSubject, type EventContract, type EventPayload } from '@homiwork/contracts';
import { publishStoredEvent, readStoredEvents } from '@homiwork/messaging';
import { startMailSink, type MailSink } from '@homiwork/mail/sink';
import { startLocalS3, type LocalS3 } from '@homiwork/storage/local';
import { createTestDatabase, createTestNamespace } from '@homiwork/testing';
import {
  freePort,
  generateDevSecrets,
  natsInboxPrefix,
  natsUserNames,
  persistentNatsPasswords,
  PROVISIONING_USER,
  REPO_ROOT,
  SERVICE_MANIFEST,
  startNatsServer,
  Supervisor,
  type NatsClusterMember,
  type NatsServerProcess,
  type NatsUserPermissions,
} from '@homiwork/system-runner';
import { systemEnv, type TestSystem } from './test-system.js';

/**
 * The test's own NATS user on the cluster: it reads what the streams and durables hold
 * (stream and consumer info, stored events) to prove that nothing was lost. It exists only
 * in this harness's generated configuration, never in deploy/.
 */
const OBSERVER_USER = 'observer';

export interface NatsNode {
  readonly name: string;
  readonly url: string;
  /** The running process, undefined while the node is down. */
  process: NatsServerProcess | undefined;
}

export interface ClusterSystem extends TestSystem {
  /** The three members of the JetStream cluster. */
  nodes: NatsNode[];
  /** Every member's client URL, comma-separated: what each service's NATS_URL names. */
  natsUrl: string;
  /** Stops one member at once (SIGKILL: no goodbye to its routes, its streams' leaders lost). */
  killNatsNode(index: number): void;
  /** Starts a stopped member again on its port and store: it catches up with the streams. */
  restartNatsNode(index: number): Promise<void>;
  /** The test's own connection to the cluster (the observer user). */
  nats: NatsConnection;
  /** JetStream administration as the observer user (stream and consumer info). */
  jsm(): Promise<JetStreamManager>;
  /** The pid of a service's instance (`media1`: media's second), for killing it. */
  pidOf(instance: string): number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the system the way a clustered deployment does, on this machine: a three-member
 * JetStream cluster (three nats-server processes on loopback, routes to each other, each
 * with the generated users and permissions), streams, durables and buckets provisioned by
 * migrate at NATS_STREAM_REPLICAS=3, and `copies` instances of every service of the
 * manifest, each connected to all three members. The gateways share one PUBLIC_API_URL
 * (the first), and the services after media learn the first media instance's internal
 * address: in Kubernetes both are Service addresses in front of every replica.
 */
export async function startClusterSystem(options: { copies?: number; env?: Record<string, string> } = {}): Promise<ClusterSystem> {
  const copies = options.copies ?? 2;
  const database = await createTestDatabase();
  const namespace = createTestNamespace();
  const dir = await mkdtemp(join(tmpdir(), 'hw-cluster-'));
  const logs: string[] = [];
  const passwords = persistentNatsPasswords(dir, [...natsUserNames(), OBSERVER_USER]);
  const observer: NatsUserPermissions = { user: OBSERVER_USER, publish: ['>'], subscribe: [`${natsInboxPrefix(OBSERVER_USER)}.>`], allowResponses: false };

  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const nodes: NatsNode[] = clientPorts.map((port, index) => ({ name: `n${index + 1}`, url: `nats://127.0.0.1:${port}`, process: undefined }));
  const natsUrl = nodes.map((node) => node.url).join(',');
  const member = (index: number): NatsClusterMember => ({
    clusterName: `${namespace}-cluster`,
    serverName: nodes[index]!.name,
    routePort: routePorts[index]!,
    peerRoutePorts: routePorts.filter((_, other) => other !== index),
  });
  const startNode = async (index: number): Promise<void> => {
    const node = nodes[index]!;
    node.process = await startNatsServer({
      ns: namespace,
      port: clientPorts[index]!,
      dir: join(dir, node.name),
      passwords,
      cluster: member(index),
      extraUsers: [observer],
      onLine: (line) => {
        if (/\[(ERR|FTL|WRN)\]/.test(line)) logs.push(`[${node.name}] ${line}`);
      },
    });
  };

  let supervisor: Supervisor | undefined;
  let mail: MailSink | undefined;
  let s3: LocalS3 | undefined;
  let nc: NatsConnection | undefined;
  const secrets = generateDevSecrets();
  let env: NodeJS.ProcessEnv = {};
  const stopInfrastructure = async () => {
    await supervisor?.stop();
    await nc?.close().catch(() => undefined);
    for (const node of nodes) await node.process?.stop();
    await mail?.stop();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((_, index) => startNode(index)));
    nc = await connect({ servers: nodes.map((node) => node.url), name: 'scale-out-observer', user: OBSERVER_USER, pass: passwords[OBSERVER_USER]!, inboxPrefix: natsInboxPrefix(OBSERVER_USER), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    await waitForMetaLeader(nc);

    mail = await startMailSink();
    s3 = await startLocalS3();
    const gatewayPorts = await Promise.all(Array.from({ length: copies }, () => freePort()));
    env = { ...systemEnv({ databaseUrl: database.url, natsUrl, namespace, mail, s3, secrets, publicApiUrl: `http://127.0.0.1:${gatewayPorts[0]}` }), ...options.env };
    await runMigrate({ ...env, NATS_USER: PROVISIONING_USER, NATS_PASSWORD: passwords[PROVISIONING_USER]!, NATS_STREAM_REPLICAS: '3' }, logs);

    supervisor = new Supervisor({
      manifest: SERVICE_MANIFEST,
      env,
      serviceEnv: (entry) => ({ NATS_USER: entry.name, NATS_PASSWORD: passwords[entry.name]! }),
      ports: async (entry, copy) => ({ opsPort: await freePort(), ...(entry.publicPort !== undefined ? { publicPort: gatewayPorts[copy]! } : {}) }),
      copies: () => copies,
      onLine: (_instance, line) => logs.push(line),
      say: (message) => logs.push(`[supervisor] ${message}`),
      // A killed instance stays down for a while, so its twin alone carries the load (a Deployment's pod would be rescheduled too).
      restartDelayMs: { first: 10_000, max: 30_000 },
    });
    await supervisor.start();
  } catch (error) {
    await stopInfrastructure();
    await database.drop();
    throw new Error(`cluster system failed to start: ${String(error)}\n${logs.slice(-30).join('\n')}`);
  }

  const running = supervisor;
  const gateways = running.status().flatMap((instance) => (instance.publicUrl ? [instance.publicUrl] : []));
  const processCount = running.status().length;
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const observerConnection = nc;
  return {
    gateways,
    supervisor: running,
    nodes,
    natsUrl,
    namespace,
    database,
    mail,
    s3,
    secrets,
    env,
    logs,
    opsUrl: (service) => {
      const instance = running.status().find((candidate) => candidate.service === service);
      if (!instance) throw new Error(`no ${service} in the cluster system`);
      return instance.opsUrl;
    },
    pidOf: (instance) => {
      const found = running.status().find((candidate) => candidate.instance === instance);
      if (!found?.pid) throw new Error(`${instance} is not running`);
      return found.pid;
    },
    api: ({ token, headers, gateway } = {}) => new ApiClient({ baseUrl: gateways[gateway ?? 0]!, ...(token ? { accessToken: token } : {}), ...(headers ? { headers } : {}) }),
    sql: async <T>(query: string, params: unknown[] = []) => (await pool.query(query, params)).rows as T[],
    events: <E extends EventContract>(event: E) => readStoredEvents(observerConnection, namespace, event),
    publish: async <E extends EventContract>(event: E, payload: EventPayload<E>) => void (await publishStoredEvent(observerConnection, namespace, event, payload)),
    async setClockOffset(offsetMs) {
      const replies = await observerConnection.requestMany(clockControlSubject(namespace), JSON.stringify({ offsetMs }), { strategy: 'count', maxMessages: processCount, maxWait: 3_000 });
      let answered = 0;
      for await (const reply of replies) if (reply.json<{ ok: boolean }>().ok) answered++;
      if (answered !== processCount) throw new Error(`only ${answered} of ${processCount} services moved their clock`);
    },
    nats: observerConnection,
    jsm: () => jetstreamManager(observerConnection),
    killNatsNode(index) {
      const node = nodes[index]!;
      node.process?.child.kill('SIGKILL');
      node.process = undefined;
    },
    async restartNatsNode(index) {
      await startNode(index);
    },
    async stop() {
      await stopInfrastructure();
      await pool.end();
      await database.drop();
    },
  };
}

/** JetStream answers only once the members have elected a metadata leader. */
async function waitForMetaLeader(nc: NatsConnection, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      await jsm.getAccountInfo();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`no JetStream metadata leader within ${timeoutMs / 1000} s: ${String(error)}`);
      await sleep(250);
    }
  }
}

/** The compiled migrate tool, as a deployment's migrate Job runs it before the services. */
function runMigrate(env: NodeJS.ProcessEnv, logs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/tools/system/src/migrate.js'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => logs.push(line));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrate exited (${code}):\n${logs.slice(-10).join('\n')}`))));
  });
}

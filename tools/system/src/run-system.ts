/**
 * `npm start`: runs the whole system on this machine and keeps it running. It prepares
 * the database and streams (migrate, a one-shot child), starts the local S3 server and
 * mail sink when none are configured (dev-infra, a child), then every service of the
 * manifest under the Supervisor, which restarts a service that dies. Its own status and
 * restart metrics are at SUPERVISOR_PORT (/status, /metrics). Ctrl-C stops everything.
 *
 * Without NATS_URL it first starts its own nats-server (the Debian package's binary, or
 * NATS_SERVER_BIN) with the configuration generated from the contracts and the manifest
 * (libs/system-runner/src/nats-permissions.ts): JetStream stored in <RUN_DIR>/nats, no
 * anonymous access, one user per service with only the subjects its service needs; each
 * service and migrate get their own user and password (kept in <RUN_DIR>/nats-passwords.json).
 * With NATS_URL, that server is used, with NATS_USER/NATS_PASSWORD if given.
 *
 * When Debian's `prometheus` is installed (tools/setup.mjs installs it), Prometheus runs
 * too, on loopback, scraping every service instance and the supervisor with the rules of
 * deploy/prometheus/rules (libs/system-runner/src/prometheus.ts; config and data in
 * <RUN_DIR>/prometheus), and is restarted if it dies. Grafana stays in the compose stack.
 *
 * Flags: `--check` starts everything, waits until ready, and stops; `--rotate-secrets`
 * replaces the development secrets kept in the run directory (every session ends);
 * `--no-prometheus` (or PROMETHEUS=off) runs without Prometheus, PROMETHEUS=on fails
 * without it.
 * Environment: RUN_DIR (default .run), PORTS=auto (free ports instead of the manifest's),
 * SUPERVISOR_PORT (default 9190; 0 picks one), LOCAL_NATS_PORT (default 4223; 0 picks
 * one), PROMETHEUS_PORT (default 9191; 0 picks one), PROMETHEUS_SCRAPE_INTERVAL (seconds,
 * default 5), PROMETHEUS_RETENTION (default 15d), and any service setting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  downstreamServices,
  erasureServices,
  freePort,
  natsUserNames,
  persistentDevSecrets,
  persistentNatsPasswords,
  prometheusBinary,
  PROVISIONING_USER,
  renderPrometheusConfig,
  REPO_ROOT,
  SERVICE_MANIFEST,
  startNatsServer,
  startPrometheus,
  Supervisor,
  type NatsServerProcess,
  type PrometheusProcess,
} from '@homiwork/system-runner';

const say = (message: string): void => void process.stdout.write(`[system] ${message}\n`);
const runDir = process.env.RUN_DIR ?? '.run';
const rotate = process.argv.includes('--rotate-secrets');
const { secrets, created } = persistentDevSecrets(runDir, { rotate });
say(created ? `new development secrets in ${runDir}/secrets.json` : `development secrets reused from ${runDir}/secrets.json`);

const nodeEnv = process.env.NODE_ENV ?? 'development';
// Billing and the gateway have no payment default (an unset NODE_ENV must not hand out
// energy for nothing): outside production this launcher asks for the local processor and
// its checkout page, unless the environment names a processor of its own.
const localPayments = nodeEnv !== 'production' && (process.env.PAYMENT_PROCESSOR || 'local') === 'local';
const env: NodeJS.ProcessEnv = {
  ...secrets,
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/homiwork',
  NATS_URL: process.env.NATS_URL,
  EVENT_NAMESPACE: process.env.EVENT_NAMESPACE ?? 'hw',
  NODE_ENV: nodeEnv,
  DOWNSTREAM_SERVICES: process.env.DOWNSTREAM_SERVICES ?? downstreamServices(),
  ERASURE_SERVICES: process.env.ERASURE_SERVICES ?? erasureServices(),
  ...(localPayments ? { PAYMENT_PROCESSOR: 'local', LOCAL_CHECKOUT_PAGE: process.env.LOCAL_CHECKOUT_PAGE || 'enabled' } : {}),
};
const children: ChildProcess[] = [];
let supervisor: Supervisor | undefined;
let nats: NatsServerProcess | undefined;
let prometheus: PrometheusProcess | undefined;
/** The NATS user and password of one process (a service, migrate) when this run owns the server. */
let natsCredentials: (user: string) => NodeJS.ProcessEnv = () => ({});
let shuttingDown = false;

/** Runs a compiled tool of this project as a child; resolves with the child once `until` says so (or it exits 0). */
function runTool(file: string, extraEnv: NodeJS.ProcessEnv, until?: (line: string) => boolean): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`dist/tools/system/src/${file}`], { cwd: REPO_ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (until?.(line)) resolve(child);
      else process.stdout.write(`${line}\n`);
    });
    child.once('exit', (code) => (code === 0 && !until ? resolve(child) : reject(new Error(`${file} exited (${code})`))));
  });
}

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await prometheus?.stop();
  await supervisor?.stop();
  for (const child of children.reverse()) if (child.exitCode === null) child.kill('SIGTERM');
  await nats?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/** The project's own nats-server, with the generated users and permissions; the services stand on it, so it goes first and last. */
async function startOwnNats(): Promise<void> {
  const passwords = persistentNatsPasswords(runDir, natsUserNames(), { rotate });
  const wanted = process.env.LOCAL_NATS_PORT === undefined ? 4223 : Number(process.env.LOCAL_NATS_PORT);
  const dir = resolve(runDir, 'nats');
  nats = await startNatsServer({
    ns: env.EVENT_NAMESPACE!,
    port: wanted === 0 ? await freePort() : wanted,
    dir,
    passwords,
    // Errors only: refused logins and permission violations name the user and the subject.
    onLine: (line) => {
      if (/\[(ERR|FTL)\]/.test(line)) process.stdout.write(`${'nats'.padEnd(10)} | ${line}\n`);
    },
  });
  env.NATS_URL = nats.url;
  natsCredentials = (user) => ({ NATS_USER: user, NATS_PASSWORD: passwords[user] });
  nats.child.once('exit', (code, signal) => {
    if (shuttingDown) return;
    say(`nats-server exited (${signal ?? code}); stopping`);
    void shutdown(1);
  });
  say(`no NATS_URL configured: nats-server on ${new URL(nats.url).host}, one user per service (${dir}/nats.conf)`);
}

/**
 * Prometheus over what the supervisor runs (the ports are known only once it started them),
 * unless turned off; when not asked for explicitly, only if the binary is installed.
 */
async function startOwnPrometheus(supervisorUrl: string): Promise<void> {
  const wanted = process.env.PROMETHEUS ?? 'auto';
  if (wanted === 'off' || process.argv.includes('--no-prometheus')) return;
  if (wanted === 'auto' && !prometheusBinary('prometheus')) {
    say('prometheus is not installed (apt-get install prometheus): running without it; every service serves /metrics on its ops port');
    return;
  }
  const requested = Number(process.env.PROMETHEUS_PORT ?? 9191);
  const port = requested === 0 ? await freePort() : requested;
  const dir = resolve(runDir, 'prometheus');
  const targets = supervisor!.status().map(({ service, instance, opsUrl }) => ({ service, instance, url: opsUrl }));
  prometheus = await startPrometheus({
    config: renderPrometheusConfig({ targets, supervisorUrl, selfAddress: `127.0.0.1:${port}`, intervalSeconds: Number(process.env.PROMETHEUS_SCRAPE_INTERVAL ?? 5) }),
    dir,
    port,
    ...(process.env.PROMETHEUS_RETENTION ? { retention: process.env.PROMETHEUS_RETENTION } : {}),
    // Errors only (a rule that fails, storage trouble); scrape failures show as `up` 0.
    onLine: (line) => {
      if (/level=error/.test(line)) process.stdout.write(`${'prometheus'.padEnd(10)} | ${line}\n`);
    },
    say,
  });
  say(`prometheus on ${prometheus.url} (${targets.length} service instances and the supervisor, rules of deploy/prometheus/rules; ${dir}/prometheus.yml)`);
}

try {
  if (!env.NATS_URL) await startOwnNats();
  await runTool('migrate.js', natsCredentials(PROVISIONING_USER));
  if (!env.S3_URL || !env.SMTP_URL) {
    await runTool('dev-infra.js', { RUN_DIR: runDir, WANT_S3: env.S3_URL ? '0' : '1', WANT_SMTP: env.SMTP_URL ? '0' : '1' }, (line) => {
      if (!line.startsWith('{"ready"')) return false;
      const { ready } = JSON.parse(line) as { ready: Record<string, string> };
      Object.assign(env, ready);
      if (ready.S3_URL) say(`no S3_URL configured: embedded S3-compatible server on ${new URL(ready.S3_URL).host}`);
      if (ready.MAIL_API_URL) say(`no SMTP_URL configured: local mail sink, read mails at ${ready.MAIL_API_URL}/messages`);
      return true;
    });
  }
  const autoPorts = process.env.PORTS === 'auto';
  // Chosen before anything starts: services that hand out links to the API (billing's
  // checkout page, its local processor's webhook call) learn the address from PUBLIC_API_URL.
  const publicPort = autoPorts ? await freePort() : Number(process.env.HTTP_PORT ?? 8080);
  env.PUBLIC_API_URL ??= `http://127.0.0.1:${publicPort}`;
  supervisor = new Supervisor({
    manifest: SERVICE_MANIFEST,
    env,
    serviceEnv: (entry) => natsCredentials(entry.name),
    ports: async (entry) => ({
      opsPort: autoPorts ? await freePort() : entry.opsPort,
      ...(entry.publicPort !== undefined ? { publicPort } : {}),
    }),
    onLine: (instance, line) => process.stdout.write(`${instance.padEnd(10)} | ${line}\n`),
    say,
  });
  const status = createServer((request, response) => {
    const body = request.url === '/metrics' ? supervisor!.metrics() : JSON.stringify({ services: supervisor!.status() });
    response.writeHead(request.url === '/metrics' || request.url === '/status' ? 200 : 404, { 'content-type': request.url === '/metrics' ? 'text/plain; version=0.0.4' : 'application/json' });
    response.end(body);
  });
  await new Promise<void>((resolve) => status.listen(Number(process.env.SUPERVISOR_PORT ?? 9190), '127.0.0.1', resolve));
  const address = status.address();
  const supervisorUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : '?'}`;
  say(`supervisor on ${supervisorUrl} (/status, /metrics)`);
  await supervisor.start();
  for (const service of supervisor.status()) say(`${service.instance} ready (ops ${service.opsUrl})`);
  await startOwnPrometheus(supervisorUrl);
  const gateway = supervisor.status().find((service) => service.publicUrl);
  say(`system ready: API ${gateway?.publicUrl ?? '(no public service)'} (docs at /docs)`);
  if (process.argv.includes('--check')) await shutdown(0);
} catch (error) {
  say(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}

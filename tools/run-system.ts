/**
 * Runs the whole system on this machine: database, streams, a local S3 server when no
 * S3 endpoint is configured, then every service of system/services.ts as a child
 * process, with their logs interleaved and prefixed. Ctrl-C stops everything.
 * `--check` starts everything, waits until every service is ready, and stops again.
 */
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { startMailSink } from '@homiwork/mail';
import { connectToNats, provisionStreams } from '@homiwork/messaging';
import { startLocalS3 } from '@homiwork/storage';
import { devSecrets, launchService, SERVICES, type LaunchedService } from '@homiwork/system-runner';

const env: NodeJS.ProcessEnv = {
  ...devSecrets(),
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/homiwork',
  NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  EVENT_NAMESPACE: process.env.EVENT_NAMESPACE ?? 'hw',
  NODE_ENV: process.env.NODE_ENV ?? 'development',
  DOWNSTREAM_SERVICES: SERVICES.filter((entry) => entry.name !== 'gateway')
    .map((entry) => entry.name)
    .join(','),
};
const checkOnly = process.argv.includes('--check');
const running: LaunchedService[] = [];
const stops: Array<() => Promise<void>> = [];

function say(message: string): void {
  process.stdout.write(`[system] ${message}\n`);
}

async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      say(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

let shuttingDown = false;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const service of running.reverse()) await service.stop();
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  await ensureDatabase(env.DATABASE_URL!);
  const nats = await connectToNats(env.NATS_URL!, 'system-runner');
  await provisionStreams(nats.jsm, env.EVENT_NAMESPACE!);
  await nats.nc.close();
  say(`streams provisioned for namespace ${env.EVENT_NAMESPACE}`);

  if (!env.S3_URL) {
    mkdirSync('.run/s3', { recursive: true });
    const s3 = await startLocalS3({ directory: '.run/s3', port: Number(process.env.LOCAL_S3_PORT ?? 9000) });
    env.S3_URL = s3.url;
    env.S3_BUCKET = env.S3_BUCKET ?? 'homiwork';
    stops.push(() => s3.stop());
    say(`no S3_URL configured: embedded S3-compatible server on ${new URL(s3.url).host}`);
  }
  if (!env.SMTP_URL) {
    const sink = await startMailSink({ smtpPort: Number(process.env.LOCAL_SMTP_PORT ?? 1025), httpPort: Number(process.env.LOCAL_MAIL_API_PORT ?? 8025) });
    env.SMTP_URL = sink.smtpUrl;
    stops.push(() => sink.stop());
    say(`no SMTP_URL configured: local mail sink, read mails at ${sink.apiUrl}/messages`);
  }

  for (const entry of SERVICES) {
    const service = launchService(entry.name, entry.main, { ...env, SERVICE_NAME: entry.name, OPS_PORT: String(entry.opsPort) }, (name, line) =>
      process.stdout.write(`${name.padEnd(10)} | ${line}\n`),
    );
    running.push(service);
    void service.child.once('exit', (code, signal) => {
      if (!shuttingDown) {
        say(`${entry.name} exited (${signal ?? code}); stopping the system`);
        void shutdown(1);
      }
    });
    await service.waitUntilReady(entry.opsPort);
    say(`${entry.name} ready (ops http://127.0.0.1:${entry.opsPort})`);
  }
  say(`system ready: API http://127.0.0.1:${env.HTTP_PORT ?? 8080} (docs at /docs)`);
  if (checkOnly) await shutdown(0);
} catch (error) {
  say(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}

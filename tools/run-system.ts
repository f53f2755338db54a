/**
 * Runs the whole system on this machine: database, streams, a local S3 server when no
 * S3 endpoint is configured, then every service of system/services.ts as a child
 * process, with their logs interleaved and prefixed. Ctrl-C stops everything.
 * `--check` starts everything, waits until every service is ready, and stops again.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { connectToNats, provisionStreams } from '@homiwork/messaging';
import { startLocalS3, type LocalS3 } from '@homiwork/storage';
import { SERVICES, type ServiceEntry } from './system/services.js';

const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/homiwork',
  NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  EVENT_NAMESPACE: process.env.EVENT_NAMESPACE ?? 'hw',
  NODE_ENV: process.env.NODE_ENV ?? 'development',
};
const checkOnly = process.argv.includes('--check');
const children = new Map<string, ChildProcess>();
const stops: Array<() => Promise<void>> = [];

function say(message: string): void {
  process.stdout.write(`[system] ${message}\n`);
}

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
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

function startChild(entry: ServiceEntry): ChildProcess {
  const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', entry.main], {
    env: { ...env, ...entry.env, SERVICE_NAME: entry.name, OPS_PORT: String(entry.opsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${entry.name.padEnd(10)} | ${line}\n`));
  }
  child.on('exit', (code, signal) => {
    children.delete(entry.name);
    if (!shuttingDown) {
      say(`${entry.name} exited (${signal ?? code}); stopping the system`);
      void shutdown(1);
    }
  });
  return child;
}

async function waitUntilReady(entry: ServiceEntry, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${entry.opsPort}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    if (!children.has(entry.name)) throw new Error(`${entry.name} exited before it was ready`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${entry.name} was not ready within ${timeoutMs / 1000} s`);
}

let shuttingDown = false;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
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
    const s3: LocalS3 = await startLocalS3({ directory: '.run/s3', port: Number(process.env.LOCAL_S3_PORT ?? 9000) });
    env.S3_URL = s3.url;
    env.S3_BUCKET = env.S3_BUCKET ?? 'homiwork';
    stops.push(() => s3.stop());
    say(`no S3_URL configured: embedded S3-compatible server on ${new URL(s3.url).host}`);
  }

  for (const entry of SERVICES) {
    children.set(entry.name, startChild(entry));
    await waitUntilReady(entry);
    say(`${entry.name} ready (ops http://127.0.0.1:${entry.opsPort})`);
  }
  say(SERVICES.length === 0 ? 'infrastructure ready; no services are registered yet' : 'system ready');
  if (checkOnly) await shutdown(0);
} catch (error) {
  say(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { natsPasswordVariable, renderDevNatsServerConfig, type NatsClusterMember, type NatsUserPermissions } from './nats-permissions.js';
import type { ServiceManifestEntry } from './manifest.js';

export interface NatsServerProcess {
  /** `nats://127.0.0.1:<port>`: no credentials in it. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Every line the server logged so far (permission violations among them). */
  readonly output: string[];
  stop(): Promise<void>;
}

/** The nats-server binary: NATS_SERVER_BIN, else the first on PATH, else the Debian package's. */
export function natsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATS_SERVER_BIN) return env.NATS_SERVER_BIN;
  for (const dir of [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin', '/usr/bin']) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  throw new Error('nats-server not found: install it (apt-get install nats-server) or set NATS_URL to a running server');
}

/**
 * Writes the generated configuration of a namespace (users and permissions of
 * nats-permissions.ts) into `dir` and runs nats-server on it, listening on 127.0.0.1:port
 * with JetStream stored under `dir/jetstream`. Passwords reach the server through its
 * environment only. Resolves once the server says it is ready.
 */
export async function startNatsServer(options: {
  ns: string;
  port: number;
  dir: string;
  passwords: Readonly<Record<string, string>>;
  manifest?: readonly ServiceManifestEntry[];
  /** Makes it one member of a JetStream cluster (the scale-out test). */
  cluster?: NatsClusterMember;
  /** Users beyond the generated ones (their passwords in `passwords` too). */
  extraUsers?: readonly NatsUserPermissions[];
  onLine?: (line: string) => void;
  timeoutMs?: number;
}): Promise<NatsServerProcess> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const configFile = join(options.dir, 'nats.conf');
  const { ns, port, manifest, cluster, extraUsers } = options;
  writeFileSync(configFile, renderDevNatsServerConfig({ ns, port, storeDir: join(options.dir, 'jetstream'), ...(manifest ? { manifest } : {}), ...(cluster ? { cluster } : {}), ...(extraUsers ? { extraUsers } : {}) }));
  const passwordEnv = Object.fromEntries(Object.entries(options.passwords).map(([user, password]) => [natsPasswordVariable(user), password]));
  const child = spawn(natsServerBinary(), ['-c', configFile], { env: { PATH: process.env.PATH, ...passwordEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server was not ready within ${(options.timeoutMs ?? 10_000) / 1000} s:\n${output.slice(-10).join('\n')}`)), options.timeoutMs ?? 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        options.onLine?.(line);
        if (line.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}) before it was ready:\n${output.slice(-10).join('\n')}`));
    });
  }).catch((error: unknown) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw error;
  });
  return {
    url: `nats://127.0.0.1:${options.port}`,
    child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

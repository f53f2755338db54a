import { spawnSync } from 'node:child_process';
import { REPO_ROOT, type InstanceStatus, type SystemProcess } from '@homiwork/system-runner';
import { childrenOf } from './memory.js';

/** One process of a running system, for the CPU and memory tables of the outside benches. */
export interface ProcessRow {
  label: string;
  pid: number;
  /** A service of the manifest (its idle goal applies). */
  service?: string;
}

/** Every process of the running system: the supervisor, its tool children, each service instance. */
export function processesOf(system: SystemProcess, instances: InstanceStatus[]): ProcessRow[] {
  const services = new Map(instances.filter((instance) => instance.pid).map((instance) => [instance.pid!, instance]));
  const rows: ProcessRow[] = [{ label: 'supervisor (run-system)', pid: system.pid }];
  for (const child of childrenOf(system.pid)) {
    const instance = services.get(child.pid);
    if (instance) rows.push({ label: instance.instance, pid: child.pid, service: instance.service });
    else if (/dev-infra/.test(child.cmdline)) rows.push({ label: 'dev-infra (S3 server, mail sink)', pid: child.pid });
    else if (/nats-server/.test(child.cmdline)) rows.push({ label: "nats-server (the system's own)", pid: child.pid });
    else rows.push({ label: child.cmdline.split(' ').at(-1) ?? String(child.pid), pid: child.pid });
  }
  return rows;
}

/** Builds what changed (Nx, cached), as npm start and the end-to-end harness do: the system runs from dist/. */
export function buildSystem(): void {
  const result = spawnSync(process.execPath, ['node_modules/nx/dist/bin/nx.js', 'run-many', '-t', 'build', '--projects=tag:type:service,system', '--outputStyle=static'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
  if (result.status !== 0) throw new Error(`building the system failed:\n${result.stdout}${result.stderr}`);
}

/** The gateway's rate limits at their maximum: a bench measures throughput, not the limiter. */
export const MAX_RATE_LIMIT = '1000000';

/**
 * The settings every outside bench starts the system with: production as `npm start` runs it
 * (its own NATS, since no NATS_URL), warnings only, every rate limit at its maximum, and the
 * webhook payment processor, because production refuses the development one and no bench buys.
 */
export function outsideSystemEnv(database: { url: string; runDir: string; namespace: string }, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PAYMENT_PROCESSOR: 'webhook',
    PAYMENT_PROCESSOR_URL: 'http://127.0.0.1:9/unused',
    DATABASE_URL: database.url,
    EVENT_NAMESPACE: database.namespace,
    RUN_DIR: database.runDir,
    ACCESS_TOKEN_TTL_SECONDS: '900',
    RATE_LIMIT_AUTH_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_READ_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_WRITE_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_GENERATION_PER_MINUTE: MAX_RATE_LIMIT,
    ...extra,
  };
}

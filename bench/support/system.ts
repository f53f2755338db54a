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

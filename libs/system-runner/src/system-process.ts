import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './launch.js';
import type { InstanceStatus } from './supervisor.js';

export interface SystemProcess {
  /** The public API (the gateway). */
  apiUrl: string;
  /** The supervisor's own listener: /status and /metrics. */
  supervisorUrl: string;
  /** Prometheus' UI and HTTP API, when the system was started with PROMETHEUS=on. */
  prometheusUrl?: string;
  pid: number;
  /** Every line the system printed so far. */
  output: string[];
  status(): Promise<InstanceStatus[]>;
  /** SIGTERM, as Ctrl-C does; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs the system exactly as `npm start` does after its setup and build (the compiled
 * supervisor, `dist/tools/system/src/run-system.js`), on free ports, and waits until it
 * says it is ready. For tests and benches that look at the system from outside.
 * Prometheus stays off (it would only take CPU from what they measure) unless `env` says PROMETHEUS=on.
 */
export async function startSystemProcess(env: NodeJS.ProcessEnv, options: { timeoutMs?: number; args?: string[]; onLine?: (line: string) => void } = {}): Promise<SystemProcess> {
  const child = spawn(process.execPath, ['dist/tools/system/src/run-system.js', ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: { PORTS: 'auto', SUPERVISOR_PORT: '0', LOCAL_S3_PORT: '0', LOCAL_SMTP_PORT: '0', LOCAL_MAIL_API_PORT: '0', LOCAL_NATS_PORT: '0', PROMETHEUS: 'off', PROMETHEUS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ apiUrl: string; supervisorUrl: string; prometheusUrl?: string }>((resolve, reject) => {
    let supervisorUrl: string | undefined;
    let prometheusUrl: string | undefined;
    const timer = setTimeout(() => reject(new Error(`the system was not ready within ${(options.timeoutMs ?? 90_000) / 1000} s:\n${output.slice(-30).join('\n')}`)), options.timeoutMs ?? 90_000);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        options.onLine?.(line);
        supervisorUrl ??= /\[system\] supervisor on (http:\/\/\S+)/.exec(line)?.[1];
        prometheusUrl ??= /\[system\] prometheus on (http:\/\/\S+)/.exec(line)?.[1];
        const api = /\[system\] system ready: API (http:\/\/\S+)/.exec(line)?.[1];
        if (api && supervisorUrl) {
          clearTimeout(timer);
          resolve({ apiUrl: api, supervisorUrl, ...(prometheusUrl ? { prometheusUrl } : {}) });
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the system exited (${code}) before it was ready:\n${output.slice(-30).join('\n')}`));
    });
  });
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return exited;
  };
  const urls = await ready.catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return {
    ...urls,
    pid: child.pid!,
    output,
    status: async () => ((await (await fetch(`${urls.supervisorUrl}/status`)).json()) as { services: InstanceStatus[] }).services,
    stop,
  };
}

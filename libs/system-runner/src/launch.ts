import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url).href.replace(/\/dist\/$/, '/'));

export interface LaunchedService {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (at once if it already has). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitUntilReady(opsPort: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts one compiled service (`node dist/.../main.js`, no loader), passing every output
 * line to `onLine` (the supervisor prefixes and prints them; the end-to-end suite keeps
 * them to search for personal data).
 */
export function launchService(name: string, main: string, env: NodeJS.ProcessEnv, onLine: (name: string, line: string) => void): LaunchedService {
  const child = spawn(process.execPath, [main], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => onLine(name, line));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return {
    name,
    child,
    exited,
    async waitUntilReady(opsPort, timeoutMs = 60_000) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        if (done) throw new Error(`${name} exited before it was ready`);
        const ok = await fetch(`http://127.0.0.1:${opsPort}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then(
          (response) => response.ok,
          () => false,
        );
        if (ok) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`${name} was not ready within ${timeoutMs / 1000} s`);
    },
    async stop() {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A port that is free right now, for services started on known ports in tests and dev.
 * Chosen at random below the kernel's ephemeral range: a port the OS hands out for
 * `listen(0)` or an outgoing connection could be taken by another process between this
 * check and the service's own listen (it happened to a gateway in CI); ports below the
 * range are only ever taken by someone who asked for them by number.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const { readFile } = await import('node:fs/promises');
  const ephemeralStart = Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768')).trim().split(/\s+/)[0]) || 32768;
  const low = 10_000;
  const high = Math.max(low + 1_000, ephemeralStart) - 1;
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      // Every address, so a port some process holds on any interface counts as taken.
      server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

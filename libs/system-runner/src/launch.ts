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

/** A port the OS says is free right now (for services started on known ports in tests and dev). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from './launch.js';
import type { ServiceManifestEntry } from './manifest.js';
import { runtimeEnv, Supervisor } from './supervisor.js';

const entry = (env?: Record<string, string>): ServiceManifestEntry => ({ name: 'media', root: 'services/media', opsPort: 9102, needs: [], ...(env ? { env } : {}) });

describe("a service's run-time settings", () => {
  it('are the manifest entry’s defaults under the environment the system runs with', () => {
    const env = runtimeEnv(entry({ MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '2' }), { MALLOC_ARENA_MAX: '8', PATH: '/bin' });
    expect(env).toEqual({ MALLOC_ARENA_MAX: '8', UV_THREADPOOL_SIZE: '2', PATH: '/bin' });
  });

  it('keep the entry’s NODE_OPTIONS when the system adds its own, which come last and so win', () => {
    expect(runtimeEnv(entry({ NODE_OPTIONS: '--max-semi-space-size=4' }), { NODE_OPTIONS: '--inspect' }).NODE_OPTIONS).toBe('--max-semi-space-size=4 --inspect');
    expect(runtimeEnv(entry({ NODE_OPTIONS: '--max-semi-space-size=4' }), {}).NODE_OPTIONS).toBe('--max-semi-space-size=4');
    expect(runtimeEnv(entry(), { NODE_OPTIONS: '--inspect' }).NODE_OPTIONS).toBe('--inspect');
  });
});

describe('the supervisor watching running services', () => {
  it('kills a service that stops answering (hung, not exited), restarts it, and sees it ready again through its checks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'supervisor-'));
    // A stand-in service: answers health on OPS_PORT; ready only after READY_AFTER_MS; on
    // SIGUSR2 it hangs (a synchronous endless loop), answering nothing while staying alive.
    const main = join(dir, 'stand-in.mjs');
    writeFileSync(
      main,
      `import { createServer } from 'node:http';
       const readyAt = Date.now() + Number(process.env.READY_AFTER_MS ?? 0);
       createServer((req, res) => { res.statusCode = req.url === '/health/ready' && Date.now() < readyAt ? 503 : 200; res.end(); }).listen(Number(process.env.OPS_PORT), '127.0.0.1');
       process.on('SIGUSR2', () => { for (;;) {} });`,
    );
    const said: string[] = [];
    const supervisor = new Supervisor({
      manifest: [{ name: 'media', root: 'services/media', opsPort: 0, needs: [] }],
      env: { PATH: process.env.PATH, READY_AFTER_MS: '0' },
      ports: async () => ({ opsPort: await freePort() }),
      mainOf: () => main,
      onLine: () => undefined,
      say: (message) => said.push(message),
      watchIntervalMs: 200,
      restartDelayMs: { first: 100, max: 100 },
    });
    try {
      await supervisor.start();
      const [first] = supervisor.status();
      expect(first!.state).toBe('ready');
      process.kill(first!.pid!, 'SIGUSR2');
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && !(supervisor.status()[0]!.restarts === 1 && supervisor.status()[0]!.state === 'ready')) await new Promise((resolve) => setTimeout(resolve, 100));
      const [after] = supervisor.status();
      expect(after!.restarts).toBe(1);
      expect(after!.state).toBe('ready');
      expect(after!.pid).not.toBe(first!.pid);
      expect(said.join('\n')).toMatch(/answered no health check 3 times in a row; killing it/);
      expect(said.join('\n')).toMatch(/media ready again/);
    } finally {
      await supervisor.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

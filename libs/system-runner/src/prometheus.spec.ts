import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './launch.js';
import { renderPrometheusConfig, startPrometheus, type PrometheusProcess } from './prometheus.js';

/** The embedded Prometheus of `npm start`, run for real (Debian's binary) against a stand-in service. */
let dir: string;
let service: Server;
let serviceUrl: string;
let prometheus: PrometheusProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  service = createServer((request, response) => {
    response.writeHead(request.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(request.url === '/metrics' ? '# TYPE demo_requests_total counter\ndemo_requests_total{route="/v1/demo"} 42\n' : '');
  });
  const port = await freePort();
  await new Promise<void>((resolve) => service.listen(port, '127.0.0.1', resolve));
  serviceUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await prometheus?.stop();
  await new Promise((resolve) => service.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Polls until the check passes (this library may not use libs/testing's `eventually`). */
async function eventually(check: () => Promise<boolean>, options: { what: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function query(url: string, expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const body = (await (await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`)).json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return body.data.result;
}

describe('the embedded Prometheus', () => {
  it('scrapes a service with its service and instance names as labels, and comes back after it is killed', async () => {
    const port = await freePort();
    const said: string[] = [];
    prometheus = await startPrometheus({
      config: renderPrometheusConfig({ targets: [{ service: 'media', instance: 'media', url: serviceUrl }], selfAddress: `127.0.0.1:${port}`, intervalSeconds: 1, ruleFiles: [] }),
      dir: join(dir, 'run'),
      port,
      say: (message) => said.push(message),
      healthyAfterMs: 1_000,
    });
    expect(prometheus.url).toBe(`http://127.0.0.1:${port}`);
    let samples: Awaited<ReturnType<typeof query>> = [];
    await eventually(async () => (samples = await query(prometheus!.url, 'demo_requests_total')).length > 0, { what: 'a first scrape', timeoutMs: 15_000 });
    expect(samples[0]?.metric).toEqual({ __name__: 'demo_requests_total', job: 'media', service: 'media', instance: 'media', route: '/v1/demo' });
    expect(samples[0]?.value[1]).toBe('42');

    const first = prometheus.pid;
    process.kill(first!, 'SIGKILL');
    await eventually(async () => prometheus!.restarts === 1 && prometheus!.pid !== undefined && prometheus!.pid !== first && (await fetch(`${prometheus!.url}/-/ready`).catch(() => undefined))?.status === 200, {
      what: 'prometheus restarted',
      timeoutMs: 20_000,
    });
    expect(said).toEqual([expect.stringMatching(/^prometheus exited \(SIGKILL\); restarting in 1 s \(restart 1\)$/)]);
    await eventually(async () => (await query(prometheus!.url, 'up{job="media"} == 1')).length > 0, { what: 'scrapes again', timeoutMs: 15_000 });

    // It ran healthy for longer than healthyAfterMs since the restart: the back-off starts again at 1 s.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const second = prometheus.pid;
    process.kill(second!, 'SIGKILL');
    await eventually(() => Promise.resolve(prometheus!.restarts === 2 && prometheus!.pid !== undefined && prometheus!.pid !== second), { what: 'prometheus restarted again', timeoutMs: 20_000 });
    expect(said[1]).toMatch(/^prometheus exited \(SIGKILL\); restarting in 1 s \(restart 2\)$/);

    const last = prometheus.pid!;
    await prometheus.stop();
    expect(() => process.kill(last, 0)).toThrow();
    expect(prometheus.restarts).toBe(2);
  }, 60_000);

  it('fails to start, with its own words, on a configuration it refuses', async () => {
    const port = await freePort();
    await expect(startPrometheus({ config: 'global:\n  scrape_interval: every now and then\n', dir: join(dir, 'broken'), port })).rejects.toThrow(/exited \(1\) before it was ready[\s\S]*scrape_interval|not a valid duration/);
  });
});

/**
 * Driving the system from outside, as a user would: HTTP load (autocannon for peak, a
 * paced open loop for latency at a given rate), a bare Fastify baseline in its own
 * process, and the resident memory of the processes a supervisor reports.
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { REPO_ROOT } from '@homiwork/system-runner';
import { rssOfProc } from './memory.js';
import { percentile } from './stats.js';

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  responses: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
}

/** Closed loop at a fixed number of keep-alive connections (= requests in flight): the peak rate. Latency of 2xx answers. */
export async function autocannonPeak(url: string, options: { headers?: Record<string, string>; connections: number; seconds: number }): Promise<LoadResult> {
  const started = performance.now();
  const result = await autocannon({ url, headers: options.headers ?? {}, connections: options.connections, pipelining: 1, duration: options.seconds, timeout: 10 });
  const wall = (performance.now() - started) / 1000;
  const statuses: Record<string, number> = {};
  for (const [status, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[status] = stat.count ?? 0;
  const responses = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  return {
    requestsPerSecond: responses / Math.min(wall, options.seconds + 0.05),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    responses,
    non2xx: result.non2xx,
    errors: result.errors,
    statuses,
  };
}

/**
 * Open loop: requests start evenly spaced at `ratePerSecond` over at most `connections`
 * keep-alive sockets, whether or not earlier ones have answered; each latency counts from
 * the moment the request was due (a request waiting for a free socket is late, and that
 * shows). autocannon's own rate option sends each connection's per-second quota as a
 * burst at the start of every second, which measures bursts, not a rate.
 */
export async function pacedLoad(url: string, options: { headers?: Record<string, string>; connections: number; ratePerSecond: number; seconds: number }): Promise<LoadResult> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  const total = Math.round(options.ratePerSecond * options.seconds);
  const intervalMs = 1000 / options.ratePerSecond;
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  const send = (dueAt: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'GET', headers: options.headers ?? {}, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const status = String(res.statusCode);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status.startsWith('2')) latencies.push(performance.now() - dueAt);
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  while (sent < total) {
    const now = performance.now();
    // Every request due by now starts now (timers are late by up to a millisecond or so).
    while (sent < total && started + sent * intervalMs <= now) {
      const job = send(started + sent * intervalMs);
      inFlight.add(job);
      void job.then(() => inFlight.delete(job));
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + sent * intervalMs - performance.now())));
  }
  await Promise.all(inFlight);
  const wall = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const responses = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  return {
    requestsPerSecond: responses / wall,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    responses,
    non2xx: responses - latencies.length,
    errors,
    statuses,
  };
}

export interface BareFastify {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The baseline: Fastify alone, in its own process (NODE_ENV=production), one GET route answering `body`. */
export async function startBareFastify(path: string, body: unknown): Promise<BareFastify> {
  const script = `
    import Fastify from 'fastify';
    const body = ${JSON.stringify(body)};
    const app = Fastify({ logger: false });
    app.get(${JSON.stringify(path)}, async () => body);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    process.stdout.write('LISTENING ' + address + '\\n');
    process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare Fastify did not start within 20 s')), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^LISTENING (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`bare Fastify exited with ${code}`)));
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, pid: child.pid!, stop };
}

/** Resident memory (VmRSS, bytes) of each named process; a process that is gone reads NaN. */
export function residentMemory(processes: Array<{ name: string; pid: number | undefined }>): Array<{ name: string; pid: number | undefined; rss: number }> {
  return processes.map(({ name, pid }) => {
    try {
      return { name, pid, rss: pid === undefined ? Number.NaN : rssOfProc(pid).rss };
    } catch {
      return { name, pid, rss: Number.NaN };
    }
  });
}

/** Inspector URLs per instance from a supervisor's output (`<instance> | Debugger listening on ws://…`), when run with NODE_OPTIONS=--inspect=127.0.0.1:0. */
export function inspectorUrlsOf(lines: string[], instances: string[]): Map<string, string> {
  const urls = new Map<string, string>();
  for (const line of lines) {
    const match = /^(\S+)\s+\| Debugger listening on (ws:\/\/\S+)/.exec(line);
    if (match && instances.includes(match[1]!)) urls.set(match[1]!, match[2]!);
  }
  return urls;
}

/**
 * Pieces every benchmark shares: environment knobs, output, waiting, the machine-load
 * readings that keep a noisy measurement out of the results, and clean-up of what a run
 * created. Numbers: stats.ts; CPU accounting: cpu.ts; closed loops: loops.ts; CPU
 * profiles over the inspector: profile.ts; resident memory: memory.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { withAdminClient } from '@homiwork/testing';

export function intEnv(name: string, fallback: number, min = 1, max = 1_000_000): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${raw}`);
  return value;
}

/** A comma-separated list of integers in [min, max]. */
export function intListEnv(name: string, fallback: string, min: number, max: number): number[] {
  return (process.env[name] ?? fallback).split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}: bad value ${part}`);
    return value;
  });
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `what` may be a function, so the message tells the progress at the moment of the time-out. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string, pollMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(pollMs);
  }
}

export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Busy ticks of the whole machine (all cores) since boot. */
export function machineBusyTicks(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return user + nice + system + irq + softirq + steal;
}

export interface Cleanup {
  what: string;
  run: () => Promise<unknown>;
}

export async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop()!;
    try {
      await cleanup.run();
    } catch (error) {
      process.stderr.write(`cleanup failed (${cleanup.what}): ${String(error)}\n`);
    }
  }
}

/**
 * Runs a bench's `main` and removes what it created (`cleanups`, in reverse) afterwards,
 * also on failure, after `totalTimeoutMs` and on SIGINT/SIGTERM; then exits the process
 * (0 when `main` succeeded).
 */
export async function runBench(main: () => Promise<void>, cleanups: Cleanup[], totalTimeoutMs: number): Promise<never> {
  let failed = false;
  const overall = setTimeout(() => {
    process.stderr.write(`bench exceeded ${totalTimeoutMs} ms; cleaning up\n`);
    failed = true;
    void runCleanups(cleanups).then(() => process.exit(2));
  }, totalTimeoutMs);
  // Interrupted (Ctrl-C, `timeout`): remove what was created before leaving, as on failure.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench interrupted (${signal}); cleaning up\n`);
      failed = true;
      void runCleanups(cleanups).then(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (error) {
    failed = true;
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    await runCleanups(cleanups);
    clearTimeout(overall);
  }
  process.exit(failed ? 1 : 0);
}

/** Creates database `name` on the admin server and registers its removal. */
export async function createBenchDatabase(name: string, cleanups: Cleanup[]): Promise<void> {
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  cleanups.push({ what: `dropping database ${name}`, run: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)) });
}

/** Registers the removal of every stream and KV bucket whose name contains `namespace` (as services name them, upper-cased). */
export function removeNamespaceOnCleanup(nc: NatsConnection, namespace: string, cleanups: Cleanup[]): void {
  cleanups.push({
    what: `deleting the streams and KV buckets of ${namespace}`,
    run: async () => {
      const jsm = await jetstreamManager(nc);
      const ns = namespace.toUpperCase();
      const names: string[] = [];
      for await (const name of jsm.streams.names()) if (name.includes(ns)) names.push(name);
      await Promise.all(names.map((name) => jsm.streams.delete(name)));
    },
  });
}

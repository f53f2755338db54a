/**
 * CPU accounting from /proc: who used the cores during a run, and waiting for a machine
 * quiet enough to measure on.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { machineBusyTicks, out, sleep } from './bench-kit.js';
import { fmt } from './stats.js';

export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads, also those that ended) or of one thread, from its stat file. */
export function ticksOf(statPath: string): number | undefined {
  try {
    const text = readFileSync(statPath, 'utf8');
    // After the command: state is field 3 of the man page, utime 14 and stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

export const cpuTicks = (pid: number): number | undefined => ticksOf(`/proc/${pid}/stat`);

/** Thread kinds of a Node process (running sharp, perhaps), by the thread's name. */
function threadKind(comm: string): string {
  if (comm === 'MainThread' || comm === 'node') return 'main thread (JS)';
  if (comm.startsWith('libvips')) return 'libvips workers';
  if (comm.startsWith('libuv')) return 'libuv pool (sharp/fs/crypto jobs)';
  if (comm.startsWith('V8')) return 'V8 workers (GC, compiler)';
  return 'other threads';
}

function threadTicks(pid: number): Map<string, number> {
  const byKind = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byKind;
  }
  for (const tid of tasks) {
    try {
      const kind = threadKind(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
      byKind.set(kind, (byKind.get(kind) ?? 0) + (ticksOf(`/proc/${pid}/task/${tid}/stat`) ?? 0));
    } catch {
      // Thread ended meanwhile.
    }
  }
  return byKind;
}

/** The first of the named benches (`events`, `identity`, `media`) running in another process: it would skew the numbers. */
export function otherBenchmarkRunning(benches: string[]): string | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const found = benches.find((bench) => cmdline.includes(`${bench}.bench`));
      if (found) return `${found}.bench`;
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

/** Waits until none of `otherBenches` runs and the machine is nearly idle (< 15% of one core) for 2 s; says so when it gives up. */
export async function waitForQuietMachine(waitSeconds: number, otherBenches: string[]): Promise<void> {
  const deadline = performance.now() + waitSeconds * 1000;
  let reported = false;
  for (;;) {
    const before = machineBusyTicks();
    await sleep(2_000);
    const busy = ((machineBusyTicks() - before) / CLOCK_TICKS / 2) * 100;
    const other = otherBenchmarkRunning(otherBenches);
    if (!other && busy < 15) return;
    if (performance.now() > deadline) {
      out(`  warning: machine still busy (${fmt(busy, 0)}% of one core${other ? `, ${other} running` : ''}) after ${waitSeconds} s; measuring anyway`);
      return;
    }
    if (!reported) out(`  waiting for a quiet machine (${fmt(busy, 0)}% of one core busy${other ? `, ${other} running` : ''})…`);
    reported = true;
  }
}

/** Named groups of processes whose CPU is accounted apart; the pids are looked up at start and at stop. */
export type CpuGroups = Record<string, () => number[]>;
/** The machine's busy time not used by this process or any group. */
export const OTHER = 'other processes';
/** This process. */
export const SELF = 'load generator (this process)';
/** Other processes' CPU (% of one core) above which a run measured someone else too. */
export const DISTURBED_PERCENT = 10;

export interface CpuUsage {
  /** % of one core per group over the window (200% = both cores). */
  percent: Record<string, number>;
  /** CPU seconds per group over the window. */
  seconds: Record<string, number>;
  /** CPU seconds of each thread kind of the detailed process. */
  threads: Record<string, number>;
  wall: number;
}

/** More than DISTURBED_PERCENT of one core used by processes outside the benchmark during the window. */
export function disturbed(usage: CpuUsage): boolean {
  return (usage.percent[OTHER] ?? 0) > DISTURBED_PERCENT;
}

/** CPU used by each group of processes from now until stop(); `detail` is broken down by thread kind. */
export function cpuWindow(groups: CpuGroups, detail?: () => number | undefined): { stop(): CpuUsage } {
  const started = performance.now();
  const selfStart = process.cpuUsage();
  const machineStart = machineBusyTicks();
  const before = new Map<number, number>();
  for (const pids of Object.values(groups)) for (const pid of pids()) before.set(pid, cpuTicks(pid) ?? 0);
  const detailPid = detail?.();
  const threadsBefore = detailPid ? threadTicks(detailPid) : new Map<string, number>();
  const processBefore = detailPid ? (cpuTicks(detailPid) ?? 0) : 0;
  return {
    stop() {
      const wall = (performance.now() - started) / 1000;
      const seconds: Record<string, number> = {};
      const self = process.cpuUsage(selfStart);
      seconds[SELF] = (self.user + self.system) / 1e6;
      for (const [group, pids] of Object.entries(groups)) {
        let ticks = 0;
        for (const pid of pids()) ticks += Math.max(0, (cpuTicks(pid) ?? 0) - (before.get(pid) ?? 0));
        seconds[group] = ticks / CLOCK_TICKS;
      }
      const machine = (machineBusyTicks() - machineStart) / CLOCK_TICKS;
      const ours = Object.values(seconds).reduce((sum, value) => sum + value, 0);
      seconds[OTHER] = Math.max(0, machine - ours);
      const threads: Record<string, number> = {};
      if (detailPid) {
        const after = threadTicks(detailPid);
        let sum = 0;
        for (const [kind, ticks] of after) {
          const delta = Math.max(0, ticks - (threadsBefore.get(kind) ?? 0)) / CLOCK_TICKS;
          threads[kind] = delta;
          sum += delta;
        }
        const whole = ((cpuTicks(detailPid) ?? 0) - processBefore) / CLOCK_TICKS;
        if (whole - sum > 0.005) threads['threads that ended meanwhile'] = whole - sum;
      }
      const percent = Object.fromEntries(Object.entries(seconds).map(([group, value]) => [group, (value / wall) * 100]));
      return { percent, seconds, threads, wall };
    },
  };
}

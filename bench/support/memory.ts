/** Resident memory of processes, from /proc. */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Current (VmRSS) and peak (VmHWM) resident set of a process, in bytes; throws when it is gone. */
export function rssOfProc(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Direct children of a process (by the parent pid in /proc/<pid>/stat), with their command lines. */
export function childrenOf(parent: number): Array<{ pid: number; cmdline: string }> {
  const children: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command: state is field 3 of the man page, the parent pid field 4.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent) continue;
      children.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

export interface RssSamples {
  /** Highest VmRSS seen per pid, in bytes. */
  peak: Map<number, number>;
  /** Median VmRSS per pid, in bytes. */
  median: Map<number, number>;
  samples: number;
}

/** Reads VmRSS of `pids` every `intervalMs` until stop(); a process that is gone is skipped. */
export function sampleRss(pids: number[], intervalMs: number): { stop(): Promise<RssSamples> } {
  const seen = new Map<number, number[]>(pids.map((pid) => [pid, []]));
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      for (const pid of pids) {
        try {
          seen.get(pid)!.push(rssOfProc(pid).rss);
        } catch {
          // Gone: the caller notices elsewhere.
        }
      }
      samples++;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (performance.now() - started))));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const peak = new Map<number, number>();
      const median = new Map<number, number>();
      for (const [pid, values] of seen) {
        const sorted = [...values].sort((a, b) => a - b);
        peak.set(pid, sorted.at(-1) ?? Number.NaN);
        median.set(pid, sorted[Math.floor(sorted.length / 2)] ?? Number.NaN);
      }
      return { peak, median, samples };
    },
  };
}

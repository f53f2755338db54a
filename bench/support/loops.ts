/** Closed loops: a fixed number of workers, each starting its next job when the last one ended. */
import { performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

/** What one job reports: `outcome` is counted by name; only `ok` jobs count as done and have their latency kept. */
export interface JobResult {
  ok: boolean;
  outcome: string;
  detail?: string;
}

export type Job = (index: number, worker: number) => Promise<JobResult>;

export interface LoopResult {
  done: number;
  wall: number;
  perSecond: number;
  /** Latencies of the ok jobs in ms, ascending. */
  latencies: number[];
  p50: number;
  p99: number;
  max: number;
  outcomes: Record<string, number>;
  firstFailure?: string;
}

/**
 * `concurrency` workers run `job` back to back until `until.jobs` jobs have been started or
 * `until.seconds` have passed. A job that throws counts as failed under `threw <Error name>`.
 */
export async function closedLoop(concurrency: number, until: { jobs: number } | { seconds: number }, job: Job): Promise<LoopResult> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let next = 0;
  let done = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const more = 'jobs' in until ? () => next < until.jobs : () => performance.now() < started + until.seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_unused, worker) => {
      while (more()) {
        const index = next++;
        const t0 = performance.now();
        let result: JobResult;
        try {
          result = await job(index, worker);
        } catch (error) {
          result = { ok: false, outcome: `threw ${(error as Error).name}`, detail: String(error) };
        }
        outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
        if (result.ok) {
          done++;
          latencies.push(performance.now() - t0);
        } else firstFailure ??= `${result.outcome}: ${result.detail ?? ''}`.slice(0, 400);
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    done,
    wall,
    perSecond: done / wall,
    latencies,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    outcomes,
    ...(firstFailure ? { firstFailure } : {}),
  };
}

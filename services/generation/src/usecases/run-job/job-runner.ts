import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { GenerationConfig } from '../../config.js';
import { ContractorEgress } from '../../contractor/egress.js';
import { GenerationMetrics } from '../../generation-metrics.js';
import type { Job } from '../../persistence/jobs.repository.js';
import { JobWakeup } from './job-wakeup.js';
import { ABORT, RunJob, type RunReport } from './run-job.usecase.js';

/** How long a stopping service lets its running jobs finish before it gives them back (the supervisor kills after 10 s). */
const SHUTDOWN_GRACE_MS = 5_000;

interface Running {
  job: Job;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Runs queued jobs, at most GENERATION_CONCURRENCY at once, from boot to shutdown. The
 * queue is the jobs table: a claim takes reserved jobs and jobs whose lease lapsed (a
 * process that died mid-job), so a restart re-runs what was in flight and loses nothing;
 * the reservation was made once, at creation, so a re-run charges nothing more. Work is
 * looked for when a job is queued here (JobWakeup), when a run ends, and every
 * GENERATION_POLL_INTERVAL_MS (jobs queued by another instance) — never in a busy loop.
 * While a job runs its lease is renewed every third of GENERATION_LEASE_MS; a renewal that
 * finds the job taken over aborts the run. At shutdown no new job is claimed, running ones
 * get a few seconds to finish, the rest are aborted and given back, and the egress closes.
 */
@Injectable()
export class JobRunner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopping = false;
  private observer: ((job: Job, report: RunReport) => void) | undefined;

  constructor(
    private readonly runJob: RunJob,
    private readonly wakeup: JobWakeup,
    private readonly metrics: GenerationMetrics,
    private readonly egress: ContractorEgress,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.wakeup.listen(() => this.poke());
    this.timer = setInterval(() => this.poke(), this.config.GENERATION_POLL_INTERVAL_MS);
    this.timer.unref();
    this.poke();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.pumping;
    const runs = [...this.running.values()];
    const finished = Promise.all(runs.map((run) => run.done));
    let grace: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([finished.then(() => false), new Promise<boolean>((resolve) => (grace = setTimeout(() => resolve(true), SHUTDOWN_GRACE_MS)))]);
    clearTimeout(grace);
    if (timedOut) {
      for (const run of this.running.values()) run.controller.abort(ABORT.shutdown);
      await Promise.all([...this.running.values()].map((run) => run.done));
    }
    // The runner is the egress's only user: nothing is dispatched after this.
    this.egress.close();
  }

  /** For the bench and tests: called with every run's report, in this process. */
  onRunFinished(observer: (job: Job, report: RunReport) => void): void {
    this.observer = observer;
  }

  /** Looks for work now; a look already under way takes the request along instead of starting another. */
  poke(): void {
    if (this.stopping) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => {
        // The next poll tries again; retrying at once would spin while the database is away.
        this.again = false;
        this.logger.error({ err: error }, 'claiming generation jobs failed');
      })
      .finally(() => {
        this.pumping = undefined;
        // Asked again after the last look had already decided to stop.
        if (this.again) this.poke();
      });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      const free = this.config.GENERATION_CONCURRENCY - this.running.size;
      if (free <= 0 || this.stopping) return;
      const claimed = await this.runJob.claim(free);
      for (const job of claimed) this.start(job);
      // A full batch means more may be waiting.
      if (claimed.length === free) this.again = true;
    } while (this.again && !this.stopping);
  }

  private start(job: Job): void {
    const controller = new AbortController();
    const heartbeat = setInterval(() => {
      this.runJob.renew(job).then(
        (held) => {
          if (!held) controller.abort(ABORT.leaseLost);
        },
        (error: unknown) => this.logger.warn({ err: error, jobId: job.id }, 'renewing a job lease failed'),
      );
    }, Math.max(1, Math.floor(this.config.GENERATION_LEASE_MS / 3)));
    heartbeat.unref();
    this.metrics.inFlight.inc();
    const done = this.runJob
      .execute(job, controller.signal)
      .then((report) => this.observer?.(job, report))
      .catch((error: unknown) => this.logger.error({ err: error, jobId: job.id }, 'a generation job could not be ended; its lease will lapse and it will run again'))
      .finally(() => {
        clearInterval(heartbeat);
        this.running.delete(job.id);
        this.metrics.inFlight.dec();
        this.poke();
      });
    this.running.set(job.id, { job, controller, done });
  }
}

import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';

/**
 * Scheduled work of a service (a retention sweep, a purge of old rows): `run` is one pass
 * of a use case, started every `intervalMs` while the service is up. A pass still going
 * when the next tick comes is joined, not doubled; a failed pass is logged (scrubbed) and
 * the next tick tries again. Subclasses are Nest providers.
 */
export abstract class PeriodicSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    /** Names the work in log lines ("upload sweep"). */
    private readonly what: string,
  ) {}

  /** One pass; returns how many things it removed. */
  protected abstract run(): Promise<number>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger.error({ err: error }, `${this.what} failed`));
    }, this.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass now; a call while a pass is going joins it instead of starting a second. */
  sweep(): Promise<number> {
    this.running ??= this.run()
      .then((removed) => {
        if (removed > 0) this.logger.info({ removed }, `${this.what} done`);
        return removed;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }
}

import { Injectable } from '@nestjs/common';

/**
 * A job was queued in this process: the runner looks for work now instead of at its next
 * poll. Other instances find the job at their poll; the queue itself is the jobs table.
 */
@Injectable()
export class JobWakeup {
  private listener: (() => void) | undefined;

  notify(): void {
    this.listener?.();
  }

  listen(listener: () => void): void {
    this.listener = listener;
  }
}

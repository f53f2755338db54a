import { Injectable } from '@nestjs/common';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { ServiceMetrics } from '@homiwork/observability';

/**
 * Generation's own metrics. Labels are bounded sets — the kind, the adapter (`local` or
 * `http`), the outcome (`succeeded` or a failure code of domain/job-state.ts) and the
 * phase — never a user, job, prompt or content.
 */
@Injectable()
export class GenerationMetrics {
  readonly jobs: Counter<'kind' | 'adapter' | 'outcome'>;
  /** `dispatch`: time inside the contractor egress; `overhead`: everything else of the run (identifiers, inputs, moderation, storage, the final transaction). */
  readonly jobSeconds: Histogram<'kind' | 'adapter' | 'phase'>;
  readonly inFlight: Gauge;
  /** Chat replies by adapter and outcome (`succeeded` or one of CHAT_REPLY_OUTCOMES' words). */
  readonly chatReplies: Counter<'adapter' | 'outcome'>;
  readonly chatReplySeconds: Histogram<'adapter'>;

  constructor(metrics: ServiceMetrics) {
    this.jobs = metrics.counter({ name: 'generation_jobs_total', help: 'Generation jobs that ended, by kind, adapter and outcome (succeeded or the failure code)', labelNames: ['kind', 'adapter', 'outcome'] as const });
    this.jobSeconds = metrics.histogram({
      name: 'generation_job_seconds',
      help: 'Time of a generation job run by phase: dispatch (in the contractor) and overhead (the rest of the run)',
      labelNames: ['kind', 'adapter', 'phase'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    });
    this.inFlight = metrics.gauge({ name: 'generation_jobs_in_flight', help: 'Jobs this instance is running now' });
    this.chatReplies = metrics.counter({ name: 'generation_chat_replies_total', help: 'Chat replies asked for, by adapter and outcome (succeeded or why not)', labelNames: ['adapter', 'outcome'] as const });
    this.chatReplySeconds = metrics.histogram({
      name: 'generation_chat_reply_seconds',
      help: 'Time of a chat reply from request to answer (identifiers, scrubbing, the contractor, moderation)',
      labelNames: ['adapter'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    });
  }
}

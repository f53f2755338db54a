import type { JetStreamManager } from '@nats-io/jetstream';
import { EVENTS_STREAM, streamName, type ConsumerContract } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import type { MessagingMetrics } from './messaging-metrics.js';

export interface ConsumerPendingGaugeOptions {
  jsm: JetStreamManager;
  namespace: string;
  consumers: readonly ConsumerContract[];
  metrics: MessagingMetrics;
  logger: Logger;
  /** How often the server is asked; one consumer-info request per consumer each time. */
  intervalMs?: number;
}

/**
 * Keeps `consumer_pending_messages{consumer}` at what the durable consumer has not yet
 * settled: messages not yet delivered (`num_pending`) plus those delivered and not yet
 * acknowledged (`num_ack_pending`, which includes failures waiting out their backoff).
 * The server keeps these counts, so a refresh is one small JetStream API request per
 * consumer — cheap next to the events themselves, and nothing on the delivery path.
 */
export class ConsumerPendingGauge {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private warned = false;

  constructor(private readonly options: ConsumerPendingGaugeOptions) {}

  start(): void {
    if (this.timer || this.options.consumers.length === 0) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.intervalMs ?? 5_000);
    // The gauge never keeps a process alive on its own.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Reads every consumer's counts once; overlapping ticks are skipped. */
  async refresh(): Promise<void> {
    const { jsm, namespace, consumers, metrics } = this.options;
    const stream = streamName(namespace, EVENTS_STREAM);
    for (const consumer of consumers) {
      const info = await jsm.consumers.info(stream, consumer.durableName);
      metrics.consumerPending.set({ consumer: consumer.durableName }, info.num_pending + info.num_ack_pending);
    }
    this.warned = false;
  }

  private tick(): void {
    if (this.inFlight) return;
    this.inFlight = this.refresh()
      .catch((error: unknown) => {
        // NATS away: the gauge keeps its last value; one line per outage, not one per tick.
        if (!this.warned) this.options.logger.warn({ err: error }, 'consumer pending count unavailable');
        this.warned = true;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}

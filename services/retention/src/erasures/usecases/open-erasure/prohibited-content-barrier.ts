import { Inject, Injectable } from '@nestjs/common';
import { EVENTS_STREAM, RetentionConsumers, streamName } from '@homiwork/contracts';
import type { NatsHandles } from '@homiwork/messaging';
import { NATS } from '@homiwork/service-kit';
import { RetentionConfig } from '../../../config.js';
import { ErasureErrors } from '../../erasure-errors.js';

/** Pauses (ms) before each look while OpenErasure waits in its handler: the usual gap is one ack's round trip. */
const PATIENCE_MS = [0, 10, 25, 50, 100, 200] as const;

/**
 * The order between an erasure and the automatic legal hold (§12.2). Both events travel in
 * the one events stream, but retention reads them with two durables that run side by side:
 * an ErasureRequested can be handled before a ProhibitedContentDetected that entered the
 * stream before it — the user sends a prohibited text, then at once erases the account —
 * and the erasure would be approved before the hold exists.
 *
 * So an erasure is decided only once the ProhibitedContentDetected durable has applied
 * everything that came before the ErasureRequested in the stream. The durable acks a
 * message only after its transaction (the hold) committed, so, from the server's counts:
 * - its ack floor has reached the erasure's stream sequence (every earlier message acked), or
 * - it has nothing left at all: none undelivered (`num_pending`) and none delivered and not
 *   acked (`num_ack_pending`, which counts those waiting out a retry's backoff too).
 * One JetStream API request per look (retention's NATS user may read its own durables'
 * info). Fails closed: NATS unreachable is an infrastructure failure, the consumer holds
 * the erasure and tries again.
 */
@Injectable()
export class ProhibitedContentBarrier {
  private readonly stream: string;

  constructor(
    @Inject(NATS) private readonly nats: NatsHandles,
    @Inject(RetentionConfig) config: RetentionConfig,
  ) {
    this.stream = streamName(config.EVENT_NAMESPACE, EVENTS_STREAM);
  }

  /** Whether every ProhibitedContentDetected that entered the stream before `streamSequence` has been applied. */
  async appliedBefore(streamSequence: number): Promise<boolean> {
    const info = await this.nats.jsm.consumers.info(this.stream, RetentionConsumers.prohibitedContentDetected.durableName);
    return info.ack_floor.stream_seq >= streamSequence || (info.num_pending === 0 && info.num_ack_pending === 0);
  }

  /**
   * Returns once `appliedBefore(streamSequence)`; looks a few times over ~0.4 s (the common
   * race resolves in milliseconds), then throws ErasureErrors.prohibitedContentPending: the
   * consumer holds the ErasureRequested and delivers it again after a pause.
   */
  async awaitAppliedBefore(streamSequence: number): Promise<void> {
    for (const pauseMs of PATIENCE_MS) {
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      if (await this.appliedBefore(streamSequence)) return;
    }
    throw ErasureErrors.prohibitedContentPending();
  }
}

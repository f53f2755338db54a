import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { IdentityRpc } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';

/**
 * Tells identity that a user was active today, once per user per day per gateway
 * instance — no write per request (R1.6). Identity's conditional update makes several
 * instances' reports one write.
 */
@Injectable()
export class ActivityReporter {
  private day = '';
  /** When `day` ends (UTC): the date string is built once a day, not per request. */
  private dayEndsAtMs = 0;
  private readonly reported = new Set<string>();

  constructor(
    private readonly rpc: RpcClient,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  note(userId: string, requestId: string): void {
    const now = this.clock.nowMs();
    if (now >= this.dayEndsAtMs || now < this.dayEndsAtMs - 86_400_000) {
      this.day = new Date(now).toISOString().slice(0, 10);
      this.dayEndsAtMs = (Math.floor(now / 86_400_000) + 1) * 86_400_000;
      this.reported.clear();
    }
    const day = this.day;
    if (this.reported.has(userId)) return;
    this.reported.add(userId);
    this.rpc.call(IdentityRpc.RecordActivityRoute, { day }, { requestId, userId }).catch((error: unknown) => {
      this.reported.delete(userId);
      this.logger.warn({ err: error, requestId }, 'could not record activity; will retry on the next request');
    });
  }
}

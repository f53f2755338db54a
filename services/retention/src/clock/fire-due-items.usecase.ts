import { Inject, Injectable } from '@nestjs/common';
import { Clock, DAY_MS } from '@homiwork/clock';
import { ChatHistoryExpiredV1, ContentExpiredV1, InactiveAccountDueV1, UploadExpiredV1, type EventContract, type EventPayload } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { Database, Transactor } from '@homiwork/persistence';
import { RetentionConfig } from '../config.js';
import { ClockMetrics } from './clock-metrics.js';
import { INACTIVE_ERASURE_DAYS, INACTIVE_WARNING_DAYS, utcDay, type DueKind } from './due-dates.js';
import { DueItemsRepository, type FiredItem } from './due-items.repository.js';

/** In this order within a batch: a user's warning is written before their erasure. */
const KIND_ORDER: readonly DueKind[] = ['inactive_warning', 'inactive_erasure', 'upload', 'content', 'chat_history'];

/**
 * §5.2: the warning's notice period — the schedule's gap between warning and erasure (4 weeks).
 * A warning that goes out late (retention was down, a hold was released, the clock jumped)
 * still gives the whole period: the erasure waits for the warning and then this long.
 */
const WARNING_NOTICE_DAYS = INACTIVE_ERASURE_DAYS - INACTIVE_WARNING_DAYS;

/**
 * The policy clock's work: everything due at `now` is taken out of due_items and its expiry
 * event written to the outbox, RETENTION_BATCH_SIZE items per transaction. The rows are
 * deleted in the same transaction that writes the events, so an item fires exactly once:
 * a crash before the commit leaves both as they were (the next pass fires it), after the
 * commit the row is gone and the relay delivers the event. Several instances share the
 * work through FOR UPDATE SKIP LOCKED. Users under an active legal hold are skipped: their
 * rows stay and fire on the first pass after the hold is released.
 */
@Injectable()
export class FireDueItems {
  constructor(
    private readonly transactor: Transactor,
    private readonly db: Database,
    private readonly outbox: Outbox,
    private readonly items: DueItemsRepository,
    private readonly metrics: ClockMetrics,
    private readonly clock: Clock,
    @Inject(RetentionConfig) private readonly config: RetentionConfig,
  ) {}

  /**
   * Batches until nothing due at the pass's start is left (a clock jump fires everything in
   * batches) or `keepGoing` says stop (the instance is shutting down). Returns how many fired.
   */
  async execute(keepGoing: () => boolean = () => true): Promise<number> {
    const now = this.clock.now();
    const limit = this.config.RETENTION_BATCH_SIZE;
    let total = 0;
    while (keepGoing()) {
      const fired = await this.batch(now, limit);
      total += fired;
      if (fired < limit) break;
    }
    return total;
  }

  /** One transaction: take up to `limit` due items, write their events. */
  async batch(now: Date, limit: number): Promise<number> {
    const fired = await this.transactor.run(async () => {
      const taken = await this.items.takeDue(now, limit);
      const byKind = new Map<DueKind, FiredItem[]>();
      for (const item of taken) {
        const items = byKind.get(item.kind);
        if (items) items.push(item);
        else byKind.set(item.kind, [item]);
      }
      for (const kind of KIND_ORDER) {
        const items = byKind.get(kind);
        if (items) await this.write(kind, items, now);
      }
      return byKind;
    });
    let count = 0;
    for (const [kind, items] of fired) {
      this.metrics.countFired(kind, items.length);
      count += items.length;
    }
    return count;
  }

  private async write(kind: DueKind, items: FiredItem[], now: Date): Promise<void> {
    switch (kind) {
      case 'upload':
        return this.append(UploadExpiredV1, items.map((item) => ({ userId: item.userId, uploadId: item.subjectId, expiredAt: item.dueAt.toISOString() })));
      case 'content':
        return this.append(ContentExpiredV1, items.map((item) => ({ userId: item.userId, contentId: item.subjectId, expiredAt: item.dueAt.toISOString() })));
      case 'chat_history':
        // basis_at of a chat row is the end of its day: everything written before it is past retention.
        return this.append(ChatHistoryExpiredV1, items.map((item) => ({ userId: item.userId, before: item.basisAt.toISOString() })));
      case 'inactive_warning': {
        // The erasure is put off so the warning's date is at least the notice period away.
        const erasures = await this.items.postponeErasures(
          items.map((item) => item.subjectId),
          new Date(now.getTime() + WARNING_NOTICE_DAYS * DAY_MS),
        );
        return this.append(
          InactiveAccountDueV1,
          items.map((item) => ({ ...this.inactivity(item), stage: 'warning' as const, erasureAt: (erasures.get(item.subjectId) ?? this.defaultErasureAt(item)).toISOString() })),
        );
      }
      case 'inactive_erasure':
        return this.append(
          InactiveAccountDueV1,
          items.map((item) => ({ ...this.inactivity(item), stage: 'erasure' as const, erasureAt: item.dueAt.toISOString() })),
        );
    }
  }

  /** basis_at of an inactivity row is the end of the last day seen. */
  private inactivity(item: FiredItem): { userId: string; lastSeenOn: string } {
    return { userId: item.userId, lastSeenOn: utcDay(new Date(item.basisAt.getTime() - 1)) };
  }

  private defaultErasureAt(item: FiredItem): Date {
    return new Date(item.basisAt.getTime() + INACTIVE_ERASURE_DAYS * DAY_MS);
  }

  private async append<E extends EventContract>(event: E, payloads: Array<EventPayload<E>>): Promise<void> {
    await this.outbox.appendAll(this.db.transactionManager(`writing ${event.type}`), event, payloads);
  }
}

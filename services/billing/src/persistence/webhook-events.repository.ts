import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/** Which processor notifications were applied: (provider, the processor's event id) and when. Nothing else of the body. */
@Injectable()
export class WebhookEventsRepository {
  constructor(private readonly db: Database) {}

  /** True the first time; false for a replay. Waits for a concurrent delivery of the same event to commit or roll back. */
  async recordOnce(provider: string, eventId: string, now: Date): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      'INSERT INTO webhook_events (provider, event_id, received_at) VALUES ($1, $2, $3) ON CONFLICT (provider, event_id) DO NOTHING RETURNING 1 AS recorded',
      [provider, eventId, now],
    );
    return rows.length === 1;
  }

  async deleteReceivedBefore(cutoff: Date): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM webhook_events WHERE received_at < $1', [cutoff]);
    return count;
  }
}

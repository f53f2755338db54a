import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

export type SecurityEventType =
  | 'registered'
  | 'login_succeeded'
  | 'login_failed'
  | 'login_blocked'
  | 'refresh_reuse_detected'
  | 'logout'
  | 'password_reset_requested'
  | 'password_reset'
  | 'profile_changed'
  | 'profile_change_refused'
  | 'account_deleted'
  | 'account_blocked';

export interface SecurityEventOrigin {
  ipHash?: string | undefined;
  userAgent?: string | undefined;
}

/** Security events (§5.6): the address hash and a coarse user agent, never the address. */
@Injectable()
export class SecurityEventsRepository {
  constructor(private readonly db: Database) {}

  async record(event: { userId: string | null; type: SecurityEventType; origin: SecurityEventOrigin; now: Date }): Promise<void> {
    await this.db.query('INSERT INTO security_events (user_id, type, ip_hash, user_agent, occurred_at) VALUES ($1, $2, $3, $4, $5)', [
      event.userId,
      event.type,
      event.origin.ipHash ?? null,
      event.origin.userAgent ?? null,
      event.now,
    ]);
  }

  /** On account erasure the events stay for their 12 months, unlinked from the account. */
  async pseudonymize(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE security_events SET user_id = NULL WHERE user_id = $1', [userId]);
    return count;
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM security_events WHERE occurred_at < $1', [cutoff]);
    return count;
  }
}

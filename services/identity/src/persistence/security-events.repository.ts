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
  | 'account_blocked'
  | 'erasure_requested'
  | 'erasure_refused'
  | 'inactivity_warning_sent';

export interface SecurityEventOrigin {
  ipHash?: string | undefined;
  userAgent?: string | undefined;
}

/** An operator's action on an account: who, and the reason they gave (identity's record only). */
export interface OperatorNote {
  operatorUserId: string | undefined;
  detail: string;
}

/** A security event as the user's export shows it (R7.1): no operator id, no operator note. */
export interface ExportedSecurityEvent {
  id: string;
  type: string;
  occurredAt: Date;
  ipHash: string | null;
  userAgent: string | null;
}

/** Security events (§5.6): the address hash and a coarse user agent, never the address. */
@Injectable()
export class SecurityEventsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Linked to the account only while its row exists. Identity's other user-keyed rows
   * reference the row (sessions, reset tokens: a foreign key refuses them once it is
   * gone); security events have no foreign key, since they outlive the account, so an
   * event written by a request racing the erasure (a failed login checked just before)
   * would stay linked after the erasure unlinked the others. The locking sub-select
   * (FOR KEY SHARE) waits for an erasure in progress and then finds no row — the event
   * is written unlinked, as the erasure would have left it; an event whose statement
   * locked the row first is committed before the erasure's unlink runs, which unlinks it.
   */
  async record(event: { userId: string | null; type: SecurityEventType; origin: SecurityEventOrigin; now: Date; operator?: OperatorNote | undefined }): Promise<void> {
    await this.db.query(
      `INSERT INTO security_events (user_id, type, ip_hash, user_agent, occurred_at, operator_user_id, detail)
       VALUES ((SELECT id FROM users WHERE id = $1 FOR KEY SHARE), $2, $3, $4, $5, $6, $7)`,
      [event.userId, event.type, event.origin.ipHash ?? null, event.origin.userAgent ?? null, event.now, event.operator?.operatorUserId ?? null, event.operator?.detail ?? null],
    );
  }

  /** How many events of these types the account had since `since` (failed password checks, say). */
  async countSince(userId: string, types: readonly SecurityEventType[], since: Date): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM security_events WHERE user_id = $1 AND type = ANY($2) AND occurred_at > $3', [userId, types, since]);
    return row?.n ?? 0;
  }

  /**
   * Wrong passwords one account may get in a minute, whichever of its names (email or
   * username) they came in under and whether at login or at a profile change: the
   * gateway's per-name limits cannot know that two names are one account; identity can.
   */
  static readonly MAX_PASSWORD_FAILURES_PER_MINUTE = 10;

  /** Whether the account has used up its budget of wrong passwords for the last minute. */
  async passwordBudgetSpent(userId: string, now: Date): Promise<boolean> {
    const failures = await this.countSince(userId, ['login_failed', 'profile_change_refused', 'erasure_refused'], new Date(now.getTime() - 60_000));
    return failures >= SecurityEventsRepository.MAX_PASSWORD_FAILURES_PER_MINUTE;
  }

  /**
   * On account erasure the events stay for their 12 months, unlinked from the account; an
   * operator's free-text reason about the account goes with it (it may name the person),
   * and the account stops being named as the operator of other events.
   */
  async pseudonymize(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE security_events SET user_id = NULL, detail = NULL WHERE user_id = $1', [userId]);
    await this.db.query('UPDATE security_events SET operator_user_id = NULL WHERE operator_user_id = $1', [userId]);
    return count;
  }

  /**
   * The 12-month purge's next candidates (§5.6), unlocked: up to `limit` events older than
   * `cutoff`, none of `heldSoFar` (users found under a legal hold this run, §12.2) — how
   * many, and their users (unlinked events, user_id NULL, count in `rows` only).
   */
  async purgeCandidates(cutoff: Date, limit: number, heldSoFar: readonly string[]): Promise<{ rows: number; userIds: string[] }> {
    const rows = await this.db.query<Array<{ user_id: string | null; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT user_id FROM security_events WHERE occurred_at < $1 AND (user_id IS NULL OR user_id <> ALL($3::uuid[]))
          ORDER BY occurred_at LIMIT $2) c
        GROUP BY user_id`,
      [cutoff, limit, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.flatMap((row) => (row.user_id === null ? [] : [row.user_id])) };
  }

  /**
   * One batch of the 12-month purge (§5.6), oldest first: unlinked events (they belong to
   * no one) and those of `ofUsers` (users retention just said are under no legal hold,
   * §12.2: "retain necessary data for investigation").
   */
  async deleteOlderThan(cutoff: Date, limit: number, ofUsers: readonly string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `DELETE FROM security_events WHERE id IN (
         SELECT id FROM security_events WHERE occurred_at < $1 AND (user_id IS NULL OR user_id = ANY($3::uuid[]))
          ORDER BY occurred_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [cutoff, limit, ofUsers],
    );
    return count;
  }

  /** The user's own events for the export (R7.1), in id order after `afterId` (numeric order: `ORDER BY e.id`, not the text alias). */
  async listForExport(userId: string, afterId: string | null, limit: number): Promise<ExportedSecurityEvent[]> {
    const rows = await this.db.query<Array<{ id: string; type: string; occurred_at: Date; ip_hash: string | null; user_agent: string | null }>>(
      'SELECT e.id::text AS id, e.type, e.occurred_at, e.ip_hash, e.user_agent FROM security_events e WHERE e.user_id = $1 AND ($2::bigint IS NULL OR e.id > $2::bigint) ORDER BY e.id LIMIT $3',
      [userId, afterId, limit],
    );
    return rows.map((row) => ({ id: row.id, type: row.type, occurredAt: row.occurred_at, ipHash: row.ip_hash, userAgent: row.user_agent }));
  }
}

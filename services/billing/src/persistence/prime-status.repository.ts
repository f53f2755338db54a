import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/** Each user's Prime end date, and whether it is announced as active (so its end is announced once). */
@Injectable()
export class PrimeStatusRepository {
  constructor(private readonly db: Database) {}

  /** Adds `days` of 24 h to the later of now and the current end; returns the new end. */
  async extend(userId: string, days: number, now: Date): Promise<Date> {
    const [row] = await this.db.query<Array<{ expiresAt: Date }>>(
      `INSERT INTO prime_status (user_id, expires_at, announced_active, updated_at) VALUES ($1, $3::timestamptz + make_interval(secs => $2::bigint * 86400), true, $3)
       ON CONFLICT (user_id) DO UPDATE
         SET expires_at = GREATEST(prime_status.expires_at, $3::timestamptz) + make_interval(secs => $2::bigint * 86400), announced_active = true, updated_at = $3
       RETURNING expires_at AS "expiresAt"`,
      [userId, days, now],
    );
    return row!.expiresAt;
  }

  async find(userId: string): Promise<{ expiresAt: Date; announcedActive: boolean } | undefined> {
    const [row] = await this.db.query<Array<{ expiresAt: Date; announcedActive: boolean }>>(
      'SELECT expires_at AS "expiresAt", announced_active AS "announcedActive" FROM prime_status WHERE user_id = $1',
      [userId],
    );
    return row;
  }

  /** Users whose Prime ended and whose end is not announced yet, soonest first. */
  async findEnded(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db.query<Array<{ userId: string }>>(
      'SELECT user_id AS "userId" FROM prime_status WHERE announced_active AND expires_at <= $1 ORDER BY expires_at LIMIT $2',
      [now, limit],
    );
    return rows.map((row) => row.userId);
  }

  /** Marks the end announced if it is still due (not extended meanwhile); the end, or undefined. */
  async markEnded(userId: string, now: Date): Promise<Date | undefined> {
    const [rows] = await this.db.query<[Array<{ expiresAt: Date }>, number]>(
      'UPDATE prime_status SET announced_active = false, updated_at = $2 WHERE user_id = $1 AND announced_active AND expires_at <= $2 RETURNING expires_at AS "expiresAt"',
      [userId, now],
    );
    return rows[0]?.expiresAt;
  }

  async deleteOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM prime_status WHERE user_id = $1', [userId]);
    return count;
  }
}

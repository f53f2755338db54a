import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/**
 * `receipt_audit`: the services' own scheduled purges (PurgeCompleted without a trigger),
 * per service, scope and UTC day. Each one is a purge retention's clock should have asked
 * for first: retention acted late or missed the item. Counts only, no user column.
 */
@Injectable()
export class ReceiptAuditRepository {
  constructor(private readonly db: Database) {}

  async count(service: string, scope: string, purgedAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO receipt_audit (service, scope, day, purges) VALUES ($1, $2, ($3::timestamptz AT TIME ZONE 'UTC')::date, 1)
       ON CONFLICT (service, scope, day) DO UPDATE SET purges = receipt_audit.purges + 1`,
      [service, scope, purgedAt],
    );
  }

  async find(service: string, scope: string): Promise<Array<{ day: string; purges: number }>> {
    return this.db.query("SELECT to_char(day, 'YYYY-MM-DD') AS day, purges FROM receipt_audit WHERE service = $1 AND scope = $2 ORDER BY day", [service, scope]);
  }
}

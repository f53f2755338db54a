import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/**
 * Generation's tombstones (the table UserTombstones writes on UserDeleted), read for the
 * sweep that clears objects landing under an erased user's prefix after the purge.
 */
@Injectable()
export class ErasedUsersRepository {
  constructor(private readonly db: Database) {}

  /** Users whose erasure generation recorded at or after `since`. */
  async erasedSince(since: Date): Promise<string[]> {
    const rows = await this.db.query<Array<{ user_id: string }>>('SELECT user_id FROM tombstones WHERE erased_at >= $1 ORDER BY erased_at', [since]);
    return rows.map((row) => row.user_id);
  }
}

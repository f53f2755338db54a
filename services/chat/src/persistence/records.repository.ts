import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/** Chat's records: plain values out, SQL in here only. */
@Injectable()
export class RecordsRepository {
  constructor(private readonly db: Database) {}

  async countOwned(userId: string): Promise<number> {
    const [row] = await this.db.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM records WHERE user_id = $1', [userId]);
    return row?.n ?? 0;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM records WHERE user_id = $1', [userId]);
    return count;
  }
}

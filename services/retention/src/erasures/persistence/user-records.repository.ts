import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

/**
 * What retention itself keeps about a user that goes on UserDeleted (its PurgeUser):
 * the policy clock's `due_items` and `prime_status` rows, the `exports` rows (their
 * archives go from the object store), and the link of `privacy_requests` to the user.
 * Not here, on purpose: `legal_holds`, `erasures`, `erasure_receipts` — the legal record.
 */
@Injectable()
export class UserRecordsRepository {
  constructor(private readonly db: Database) {}

  async deleteDueItems(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM due_items WHERE user_id = $1', [userId]);
    return count;
  }

  async deletePrimeStatus(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM prime_status WHERE user_id = $1', [userId]);
    return count;
  }

  /** The request records stay as proof that the rights were honoured, without the person. */
  async unlinkPrivacyRequests(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE privacy_requests SET user_id = NULL WHERE user_id = $1', [userId]);
    return count;
  }

  /** Deletes the user's export rows; returns the object keys they named. */
  async deleteExports(userId: string): Promise<{ rows: number; objectKeys: string[] }> {
    const [rows] = await this.db.query<[Array<{ object_key: string | null }>, number]>('DELETE FROM exports WHERE user_id = $1 RETURNING object_key', [userId]);
    return { rows: rows.length, objectKeys: rows.map((row) => row.object_key).filter((key): key is string => key !== null) };
  }
}

import { Injectable } from '@nestjs/common';
import { Database } from '@homiwork/persistence';

export type CreditReason = 'signup' | 'refund' | 'purchase';

/**
 * The energy ledger and its running sum. Every change is one statement that writes the
 * entry and moves the balance together, so `balance = sum(delta)` holds after every
 * commit; the spend is a conditional UPDATE, so two concurrent spends can never take the
 * balance below zero (the CHECK on `balances` is the backstop).
 */
@Injectable()
export class EnergyLedgerRepository {
  constructor(private readonly db: Database) {}

  async balanceOf(userId: string): Promise<number> {
    const [row] = await this.db.query<Array<{ energy: number }>>('SELECT energy FROM balances WHERE user_id = $1', [userId]);
    return row?.energy ?? 0;
  }

  /** The balance, its row locked until the transaction ends (null: the user has none yet). */
  async lockBalance(userId: string): Promise<number | null> {
    const [row] = await this.db.query<Array<{ energy: number }>>('SELECT energy FROM balances WHERE user_id = $1 FOR UPDATE', [userId]);
    return row?.energy ?? null;
  }

  /**
   * Debits the reservations together: one conditional UPDATE of the balance by their sum
   * (`energy >= sum`, so never below zero whatever the caller computed) and one debit entry
   * each. Returns the new balance, or null when the balance does not cover the sum (nothing
   * written).
   */
  async spend(userId: string, debits: ReadonlyArray<{ reservationId: string; amount: number }>, now: Date): Promise<number | null> {
    const rows = await this.db.query<Array<{ energy: number }>>(
      `WITH debit AS (
         SELECT * FROM unnest($2::uuid[], $3::int[]) AS d (reservation_id, amount)
       ), spent AS (
         UPDATE balances SET energy = energy - (SELECT sum(amount) FROM debit), updated_at = $4
         WHERE user_id = $1 AND energy >= (SELECT sum(amount) FROM debit)
         RETURNING energy
       ), entries AS (
         INSERT INTO ledger_entries (user_id, delta, reason, reservation_id, created_at)
         SELECT $1, -debit.amount, 'reservation', debit.reservation_id, $4 FROM debit, spent
       )
       SELECT energy FROM spent`,
      [userId, debits.map((debit) => debit.reservationId), debits.map((debit) => debit.amount), now],
    );
    return rows[0]?.energy ?? null;
  }

  /**
   * Adds `amount` with its reason, once: a second credit for the same signup, refunded
   * reservation or paid order is refused by the ledger's unique indexes and changes
   * nothing. Returns the new balance, or null when it had been credited already.
   */
  async credit(userId: string, amount: number, reason: CreditReason, ref: { reservationId?: string; orderId?: string }, now: Date): Promise<number | null> {
    const rows = await this.db.query<Array<{ energy: number }>>(
      `WITH entry AS (
         INSERT INTO ledger_entries (user_id, delta, reason, reservation_id, order_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING
         RETURNING delta
       )
       INSERT INTO balances (user_id, energy, updated_at) SELECT $1, delta, $6 FROM entry
       ON CONFLICT (user_id) DO UPDATE SET energy = balances.energy + EXCLUDED.energy, updated_at = EXCLUDED.updated_at
       RETURNING energy`,
      [userId, amount, reason, ref.reservationId ?? null, ref.orderId ?? null, now],
    );
    return rows[0]?.energy ?? null;
  }

  async deleteAllOfUser(userId: string): Promise<{ balances: number; ledgerEntries: number }> {
    const [, ledgerEntries] = await this.db.query<[unknown[], number]>('DELETE FROM ledger_entries WHERE user_id = $1', [userId]);
    const [, balances] = await this.db.query<[unknown[], number]>('DELETE FROM balances WHERE user_id = $1', [userId]);
    return { balances, ledgerEntries };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { BillingRpc, RpcRequest, RpcResponse } from '@homiwork/contracts';
import type { RpcError } from '@homiwork/messaging';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { BillingErrors } from '../../billing-errors.js';
import { BillingMetrics } from '../../billing-metrics.js';
import { BillingConfig } from '../../config.js';
import { EnergyLedgerRepository } from '../../persistence/energy-ledger.repository.js';
import { ReservationsRepository, type ReservationRecord } from '../../persistence/reservations.repository.js';

type Input = RpcRequest<typeof BillingRpc.ReserveEnergyRoute>;
type Output = RpcResponse<typeof BillingRpc.ReserveEnergyRoute>;

interface Pending {
  input: Input;
  cost: number;
  resolve: (output: Output) => void;
  reject: (error: unknown) => void;
}

/** The most reservations of one account settled in one transaction. */
const MAX_BATCH = 128;

/**
 * R4.4, R6.1: holds the price of one generation (or chat reply) before it is dispatched.
 *
 * Never negative under any concurrency, by the database: the debit is a conditional
 * UPDATE (`energy >= amount`), and the balance's CHECK stands behind it. Idempotent on
 * the reservation id (the job's): asking again answers the same reservation and charges
 * nothing more; an id whose job already ended without one (`void`) is refused, so a late
 * retry cannot charge for a job that failed.
 *
 * Reservations of one account that arrive while a transaction for that account is under
 * way are settled together in the next one. A busy account's balance row is locked by each
 * debit until its commit is on disk (~2 ms of fsync here), so one reservation per
 * transaction caps one account at a few hundred per second; per batch, the fsync is paid
 * once (bench/billing.bench.ts). The outcome is what serving them one by one, in arrival
 * order, would give: each is taken if what is left covers it, and answered with the
 * balance as it was right after it. An idle account's reservation goes at once, alone.
 * A batch that fails as a whole is retried one reservation at a time, so one bad request
 * never fails the others.
 */
@Injectable()
export class ReserveEnergy {
  /** Per account: the reservations waiting for the transaction under way to end. */
  private readonly queues = new Map<string, Pending[]>();

  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly reservations: ReservationsRepository,
    private readonly ledger: EnergyLedgerRepository,
    private readonly metrics: BillingMetrics,
    @Inject(BillingConfig) private readonly config: BillingConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      const pending: Pending = { input, cost: this.config.ENERGY_COSTS[input.purpose], resolve, reject };
      const queue = this.queues.get(input.userId);
      if (queue) {
        queue.push(pending);
        return;
      }
      this.queues.set(input.userId, [pending]);
      void this.drain(input.userId);
    });
  }

  /** Runs batches for one account until nothing waits; the queue's existence marks the account as busy. */
  private async drain(userId: string): Promise<void> {
    const queue = this.queues.get(userId)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        await this.settle(userId, batch);
      } catch (error) {
        if (batch.length === 1 || error instanceof UserErased) for (const pending of batch) this.fail(pending, error);
        // A failure of the whole batch (a deadlock, one odd request) must not fail its neighbours: each goes alone.
        else for (const pending of batch) await this.settle(userId, [pending]).catch((alone: unknown) => this.fail(pending, alone));
      }
    }
    this.queues.delete(userId);
  }

  private async settle(userId: string, batch: Pending[]): Promise<void> {
    const { answers, taken } = await this.transactor.run(async () => {
      await this.tombstones.guard(userId);
      const now = this.clock.now();
      const inserted = await this.reservations.insertHeld(userId, batch.map((pending) => ({ id: pending.input.reservationId, purpose: pending.input.purpose, amount: pending.cost })), now);
      // New reservations (the first of an id repeated in the batch); ids that existed before are answered from what is stored.
      const fresh = batch.filter((pending, index) => inserted.has(pending.input.reservationId) && batch.findIndex((other) => other.input.reservationId === pending.input.reservationId) === index);
      const known = batch.filter((pending) => !inserted.has(pending.input.reservationId)).map((pending) => pending.input.reservationId);
      const stored = known.length === 0 ? new Map<string, ReservationRecord>() : new Map((await this.reservations.findMany(known)).map((row) => [row.id, row]));
      // The debit last: it locks the balance row until the commit.
      const { taken, energy } = await this.debit(userId, fresh, now);
      // Each taken reservation is answered with the balance right after it, as if served alone in order.
      const answers = new Map<Pending, Output | RpcError>();
      let after = energy;
      for (const pending of [...fresh].reverse()) {
        if (!taken.has(pending)) continue;
        answers.set(pending, { cost: pending.cost, energy: after });
        after += pending.cost;
      }
      for (const pending of batch) {
        if (taken.has(pending)) continue;
        // A repeat of an id first seen in this batch follows what became of that one.
        const first = fresh.find((candidate) => candidate.input.reservationId === pending.input.reservationId);
        const row = first ? { userId, purpose: first.input.purpose, state: taken.has(first) ? 'held' : 'absent', amount: first.cost } : stored.get(pending.input.reservationId);
        if (!row || row.state === 'absent') answers.set(pending, BillingErrors.insufficientEnergy(pending.cost));
        else if (row.userId !== userId || row.purpose !== pending.input.purpose) answers.set(pending, BillingErrors.reservationConflict());
        else if (row.state === 'void') answers.set(pending, BillingErrors.reservationClosed());
        else answers.set(pending, { cost: row.amount, energy });
      }
      return { answers, taken };
    });
    for (const pending of batch) {
      const answer = answers.get(pending)!;
      if ('cost' in answer) {
        const outcome = taken.has(pending) ? 'reserved' : 'replayed';
        this.metrics.reservations.inc({ purpose: pending.input.purpose, outcome });
        if (outcome === 'reserved') this.metrics.energy.inc({ reason: 'reservation' }, pending.cost);
        pending.resolve(answer);
      } else {
        this.metrics.reservations.inc({ purpose: pending.input.purpose, outcome: answer.code === 'insufficient_energy' ? 'insufficient' : 'refused' });
        pending.reject(answer);
      }
    }
  }

  /**
   * Debits the new reservations: all of them in one conditional UPDATE when the balance
   * covers their sum (the usual case); otherwise, under the balance's lock, in order while
   * what is left covers each, and the rest are removed. Returns those taken and the balance after.
   */
  private async debit(userId: string, fresh: Pending[], now: Date): Promise<{ taken: Set<Pending>; energy: number }> {
    if (fresh.length === 0) return { taken: new Set(), energy: await this.ledger.balanceOf(userId) };
    const all = await this.ledger.spend(userId, fresh.map(toDebit), now);
    if (all !== null) return { taken: new Set(fresh), energy: all };
    let left = (await this.ledger.lockBalance(userId)) ?? 0;
    const taken = new Set<Pending>();
    for (const pending of fresh) {
      if (pending.cost > left) continue;
      taken.add(pending);
      left -= pending.cost;
    }
    await this.reservations.deleteHeld(fresh.filter((pending) => !taken.has(pending)).map((pending) => pending.input.reservationId));
    if (taken.size === 0) return { taken, energy: left };
    const energy = await this.ledger.spend(userId, [...taken].map(toDebit), now);
    if (energy === null) throw new Error('the balance changed under its own lock');
    return { taken, energy };
  }

  private fail(pending: Pending, error: unknown): void {
    pending.reject(error instanceof UserErased ? BillingErrors.accountDeleted() : error);
  }
}

const toDebit = (pending: Pending) => ({ reservationId: pending.input.reservationId, amount: pending.cost });

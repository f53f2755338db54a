import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withinTransaction } from '@homiwork/persistence';
import { ReserveEnergy } from '../src/usecases/reserve-energy/reserve-energy.usecase.js';
import { startBillingKit, type BillingKit } from './support.js';

// The energy ledger on the real database: reservations under concurrency, settlement by
// GenerationFinished, the signup grant, and the invariants the database itself keeps.

let kit: BillingKit;

beforeAll(async () => {
  // 16 connections: the concurrent spenders below really run in parallel transactions.
  kit = await startBillingKit({ env: { ENERGY_SIGNUP_GRANT: '100' }, poolSize: 16 });
});
afterAll(async () => {
  await kit?.close();
});

/** A user with exactly `energy`, given as the signup grant plus a purchase-like top-up entry. */
async function userWith(energy: number): Promise<string> {
  const userId = randomUUID();
  await kit.transactor.run(() => kit.ledger.credit(userId, energy, 'purchase', { orderId: randomUUID() }, kit.clock.now()));
  return userId;
}

const reserve = (userId: string, purpose: 'song' | 'image' | 'text' | 'chat' = 'image', reservationId = randomUUID()) => kit.useCases.reserveEnergy.execute({ userId, reservationId, purpose });
const finished = (userId: string, jobId: string, outcome: 'succeeded' | 'failed', purpose: 'song' | 'image' | 'text' | 'chat' = 'image') =>
  kit.dataSource.transaction((manager) => withinTransaction(manager, () => kit.useCases.settleReservation.execute({ userId, jobId, purpose, outcome })));

async function expectConsistent(userId: string, balance: number): Promise<void> {
  expect(await kit.energyOf(userId)).toEqual({ balance, ledgerSum: balance });
}

describe('reservations never take a balance below zero (R6.1)', () => {
  it('50 concurrent reservations on a balance that pays for 10: exactly 10 succeed, 40 answer 402, balance 0, ledger sum = balance', async () => {
    const userId = await userWith(10 * kit.config.ENERGY_COSTS.image);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => reserve(userId)));
    const ok = results.filter((result) => result.status === 'fulfilled');
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const { reason } of refused) expect(reason).toMatchObject({ status: 402, code: 'insufficient_energy' });
    await expectConsistent(userId, 0);
    const [held] = await kit.dataSource.query<Array<{ n: number }>>("SELECT count(*)::int AS n FROM billing.reservations WHERE user_id = $1 AND state = 'held'", [userId]);
    expect(held!.n).toBe(10);
  });

  it('the same across 5 instances of the use case (as 5 service processes would run them): exactly 10 of 50, balance 0', async () => {
    const userId = await userWith(10 * kit.config.ENERGY_COSTS.image);
    const instances = Array.from({ length: 5 }, () => new ReserveEnergy(kit.transactor, kit.tombstones, kit.reservations, kit.ledger, kit.metrics, kit.config, kit.clock));
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => instances[i % 5]!.execute({ userId, reservationId: randomUUID(), purpose: 'image' })));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toMatchObject({ status: 402 });
    await expectConsistent(userId, 0);
  });

  it('reservations served together answer as if served one by one in order: each taken if what is left covers it, with the balance right after it', async () => {
    const userId = await userWith(35);
    // Issued in one tick: the first goes at once, the others wait for it and go together.
    const answers = await Promise.allSettled([reserve(userId, 'song'), reserve(userId, 'image'), reserve(userId, 'chat'), reserve(userId, 'text'), reserve(userId, 'chat')]);
    expect(answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : (answer.reason as { code: string }).code))).toEqual([
      { cost: 30, energy: 5 },
      'insufficient_energy',
      { cost: 1, energy: 4 },
      { cost: 2, energy: 2 },
      { cost: 1, energy: 1 },
    ]);
    await expectConsistent(userId, 1);
  });

  it('the same reservation id twice in one batch is charged once', async () => {
    const userId = await userWith(100);
    const id = randomUUID();
    const answers = await Promise.all([reserve(userId, 'chat'), reserve(userId, 'song', id), reserve(userId, 'song', id)]);
    expect(answers.slice(1)).toEqual([
      { cost: 30, energy: 69 },
      { cost: 30, energy: 69 },
    ]);
    await expectConsistent(userId, 69);
    // And when the balance cannot pay for it, both repeats are refused and nothing stays.
    const poor = await userWith(20);
    const refused = randomUUID();
    const outcomes = await Promise.allSettled([reserve(poor, 'chat'), reserve(poor, 'song', refused), reserve(poor, 'song', refused)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(await kit.reservations.find(refused)).toBeUndefined();
    await expectConsistent(poor, 19);
  });

  it('the database refuses a negative balance even when the application does not ask (CHECK)', async () => {
    const userId = await userWith(5);
    await expect(kit.dataSource.query('UPDATE billing.balances SET energy = energy - 6 WHERE user_id = $1', [userId])).rejects.toThrow(/check constraint/);
    await expectConsistent(userId, 5);
  });

  it('ledger entries are append-only: an UPDATE is refused by the trigger', async () => {
    const userId = await userWith(5);
    await expect(kit.dataSource.query('UPDATE billing.ledger_entries SET delta = 500 WHERE user_id = $1', [userId])).rejects.toThrow(/append-only/);
    await expectConsistent(userId, 5);
  });

  it('each reservation, refund and purchase is entered at most once (unique ledger entries)', async () => {
    const userId = await userWith(50);
    const orderId = randomUUID();
    const credit = () => kit.transactor.run(() => kit.ledger.credit(userId, 7, 'purchase', { orderId }, kit.clock.now()));
    expect(await credit()).toBe(57);
    expect(await credit()).toBeNull();
    await expectConsistent(userId, 57);
  });
});

describe('ReserveEnergy is idempotent on the reservation id', () => {
  it('a retry answers the same reservation and charges nothing more, also when the retries race', async () => {
    const userId = await userWith(100);
    const reservationId = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => reserve(userId, 'song', reservationId)));
    for (const answer of answers) expect(answer.cost).toBe(30);
    await expectConsistent(userId, 70);
    expect(await reserve(userId, 'song', reservationId)).toEqual({ cost: 30, energy: 70 });
  });

  it('the same id for another user or purpose is refused (409) and charges nothing', async () => {
    const userId = await userWith(100);
    const reservationId = randomUUID();
    await reserve(userId, 'song', reservationId);
    await expect(reserve(userId, 'image', reservationId)).rejects.toMatchObject({ status: 409, code: 'reservation_conflict' });
    const other = await userWith(100);
    await expect(reserve(other, 'song', reservationId)).rejects.toMatchObject({ status: 409 });
    await expectConsistent(userId, 70);
    await expectConsistent(other, 100);
  });

  it('a refused reservation leaves no row behind, so a retry after a top-up can succeed', async () => {
    const userId = await userWith(5);
    const reservationId = randomUUID();
    await expect(reserve(userId, 'song', reservationId)).rejects.toMatchObject({ status: 402 });
    expect(await kit.reservations.find(reservationId)).toBeUndefined();
    await kit.transactor.run(() => kit.ledger.credit(userId, 25, 'purchase', { orderId: randomUUID() }, kit.clock.now()));
    expect(await reserve(userId, 'song', reservationId)).toEqual({ cost: 30, energy: 0 });
  });
});

describe('GenerationFinished settles the reservation (R4.4)', () => {
  it('succeeded commits: the energy stays spent; a redelivery changes nothing', async () => {
    const userId = await userWith(100);
    const jobId = randomUUID();
    await reserve(userId, 'song', jobId);
    expect(await finished(userId, jobId, 'succeeded', 'song')).toBe('committed');
    expect(await finished(userId, jobId, 'succeeded', 'song')).toBe('unchanged');
    expect(await finished(userId, jobId, 'failed', 'song')).toBe('unchanged');
    expect((await kit.reservations.find(jobId))!.state).toBe('committed');
    await expectConsistent(userId, 70);
  });

  it('failed refunds with a refund entry; a redelivered failure (even many at once) refunds nothing more', async () => {
    const userId = await userWith(100);
    const jobId = randomUUID();
    await reserve(userId, 'song', jobId);
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => finished(userId, jobId, 'failed', 'song')));
    expect(outcomes.filter((outcome) => outcome === 'refunded')).toHaveLength(1);
    expect(await finished(userId, jobId, 'succeeded', 'song')).toBe('unchanged');
    await expectConsistent(userId, 100);
    const entries = await kit.dataSource.query<Array<{ reason: string; delta: number }>>('SELECT reason, delta FROM billing.ledger_entries WHERE reservation_id = $1 ORDER BY id', [jobId]);
    expect(entries).toEqual([
      { reason: 'reservation', delta: -30 },
      { reason: 'refund', delta: 30 },
    ]);
  });

  it('a failure that arrives before its reservation leaves it void: the late reservation is refused and charges nothing', async () => {
    const userId = await userWith(100);
    const jobId = randomUUID();
    expect(await finished(userId, jobId, 'failed', 'song')).toBe('voided');
    await expect(reserve(userId, 'song', jobId)).rejects.toMatchObject({ status: 409, code: 'reservation_closed' });
    await expectConsistent(userId, 100);
  });

  it('a failure racing its reservation ends refunded or void, never charged: 30 rounds', async () => {
    const userId = await userWith(10_000);
    for (let round = 0; round < 30; round++) {
      const jobId = randomUUID();
      await Promise.allSettled([reserve(userId, 'song', jobId), finished(userId, jobId, 'failed', 'song')]);
      expect(['refunded', 'void']).toContain((await kit.reservations.find(jobId))!.state);
    }
    await expectConsistent(userId, 10_000);
  });

  it('a settlement inside a batch that rolls back leaves the reservation held', async () => {
    const userId = await userWith(100);
    const jobId = randomUUID();
    await reserve(userId, 'song', jobId);
    await expect(
      kit.dataSource.transaction((manager) =>
        withinTransaction(manager, async () => {
          await kit.useCases.settleReservation.execute({ userId, jobId, purpose: 'song', outcome: 'failed' });
          throw new Error('a later message of the batch failed');
        }),
      ),
    ).rejects.toThrow('later message');
    expect((await kit.reservations.find(jobId))!.state).toBe('held');
    await expectConsistent(userId, 70);
  });
});

describe('the signup grant (UserRegistered)', () => {
  it('grants ENERGY_SIGNUP_GRANT once per user, also when the event is redelivered concurrently', async () => {
    const userId = randomUUID();
    const grant = () => kit.dataSource.transaction((manager) => withinTransaction(manager, () => kit.useCases.grantSignupEnergy.execute(userId)));
    const granted = await Promise.all([grant(), grant(), grant()]);
    expect(granted.filter(Boolean)).toHaveLength(1);
    expect(await grant()).toBe(false);
    await expectConsistent(userId, 100);
    expect(await kit.useCases.getBalance.execute({ requestId: 'r', userId })).toEqual({ energy: 100 });
  });

  it('a user who bought energy before the grant arrived still gets it, once', async () => {
    const userId = await userWith(40);
    expect(await kit.useCases.grantSignupEnergy.execute(userId)).toBe(true);
    await expectConsistent(userId, 140);
  });
});

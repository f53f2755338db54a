import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { EnergyLedgerRepository } from '../../persistence/energy-ledger.repository.js';
import { OrdersRepository } from '../../persistence/orders.repository.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';
import { ReservationsRepository } from '../../persistence/reservations.repository.js';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * R1.5, R6.3: on UserDeleted the balance, ledger, reservations and Prime status go; open
 * orders are closed; every order stays as a transaction record for §5.7 but without the
 * personal link — `user_id` cleared, one random `unlinked_ref` for all of this user's
 * orders (accounting can still see they belong together; nobody can see to whom) — until
 * the scheduled purge deletes it at `retain_until`. Confirmed with PurgeCompleted.
 *
 * The tombstone is recorded first, in the same transaction (the event handler's, which
 * this joins): it waits for every write of the user already under way to commit, so the
 * deletes below see it, and it refuses every later one.
 */
@Injectable()
export class PurgeUser {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly ledger: EnergyLedgerRepository,
    private readonly reservations: ReservationsRepository,
    private readonly orders: OrdersRepository,
    private readonly prime: PrimeStatusRepository,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const now = this.clock.now();
      await this.tombstones.record(userId, now);
      const { balances, ledgerEntries } = await this.ledger.deleteAllOfUser(userId);
      const reservations = await this.reservations.deleteAllOfUser(userId);
      const primeStatus = await this.prime.deleteOfUser(userId);
      const orders = await this.orders.closeAndUnlinkAllOfUser(userId, `erased-${randomBytes(16).toString('hex')}`, now);
      await this.outbox.append(PurgeCompletedV1, {
        service: 'billing',
        userId,
        erasureId,
        scope: 'user',
        scopeId: userId,
        trigger,
        counts: { balances, ledger_entries: ledgerEntries, reservations, prime_status: primeStatus, orders_closed: orders.closed, orders_unlinked: orders.unlinked },
        purgedAt: now.toISOString(),
      });
    });
  }
}

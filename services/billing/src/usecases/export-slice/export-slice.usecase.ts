import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { EXPORT_PAGE_TARGET_BYTES, type ExportSlicePage } from '@homiwork/contracts';
import { readExportPage, TIME_ID_KEY, type ExportRow, type ExportSection } from '@homiwork/service-kit';
import { ExportSliceRepository } from './export-slice.repository.js';

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;

/** A collection of at most one row per user: read whole on its first visit. */
function oneRowSection(name: string, read: () => Promise<ExportRow['item'] | undefined>): ExportSection {
  return {
    name,
    key: /^row$/,
    read: async (after) => {
      if (after !== null) return [];
      const item = await read();
      return item ? [{ key: 'row', item }] : [];
    },
  };
}

/**
 * R7.1: one page of what billing holds about a user, for retention's export archive — the
 * energy balance and every ledger entry, the energy reservations, the orders (product,
 * amount, currency, status, times: never card data, which billing never receives, nor the
 * processor's checkout link) and the Prime status. Only the user named in the request:
 * every read is scoped to them.
 */
@Injectable()
export class ExportSlice {
  constructor(
    private readonly rows: ExportSliceRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(request: { userId: string; cursor?: string | undefined }, targetBytes: number = EXPORT_PAGE_TARGET_BYTES): Promise<ExportSlicePage> {
    const { userId } = request;
    return readExportPage(
      [
        oneRowSection('energy_balance', async () => {
          const balance = await this.rows.balance(userId);
          return balance && { energy: balance.energy, updatedAt: balance.updatedAt.toISOString() };
        }),
        {
          name: 'energy_ledger',
          key: /^\d{1,19}$/,
          read: async (after, limit) =>
            (await this.rows.ledgerAfter(userId, after, limit)).map((entry) => ({
              key: entry.key,
              item: { delta: entry.delta, reason: entry.reason, reservationId: entry.reservationId, orderId: entry.orderId, createdAt: entry.createdAt.toISOString() },
            })),
        },
        {
          name: 'energy_reservations',
          key: TIME_ID_KEY,
          read: async (after, limit) =>
            (await this.rows.reservationsAfter(userId, after, limit)).map((reservation) => ({
              key: reservation.key,
              item: { id: reservation.id, purpose: reservation.purpose, amount: reservation.amount, state: reservation.state, createdAt: reservation.createdAt.toISOString(), settledAt: iso(reservation.settledAt) },
            })),
        },
        {
          name: 'orders',
          key: TIME_ID_KEY,
          read: async (after, limit) =>
            (await this.rows.ordersAfter(userId, after, limit)).map(({ key, createdAt, paidAt, closedAt, retainUntil, ...order }) => ({
              key,
              item: { ...order, createdAt: createdAt.toISOString(), paidAt: iso(paidAt), closedAt: iso(closedAt), retainUntil: retainUntil.toISOString() },
            })),
        },
        oneRowSection('prime_status', async () => {
          const prime = await this.rows.primeStatus(userId);
          return prime && { active: prime.expiresAt > this.clock.now(), activeUntil: prime.expiresAt.toISOString(), updatedAt: prime.updatedAt.toISOString() };
        }),
      ],
      request.cursor,
      targetBytes,
    );
  }
}

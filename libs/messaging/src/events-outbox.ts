import type { EventContract, EventPayload } from '@homiwork/contracts';
import type { Database } from '@homiwork/persistence';
import type { Outbox } from './outbox.js';

/**
 * A service's events, written to its outbox in the ambient transaction (Transactor.run or
 * an event handler's), so an event exists if and only if the change it announces was
 * committed (R8.2). Outside a transaction it throws instead of writing. The service kit
 * provides one to every service that has a database.
 */
export class EventsOutbox {
  constructor(
    private readonly outbox: Outbox,
    private readonly db: Database,
  ) {}

  /** Validates the payload against the event's schema and appends it; returns the message id. */
  async append<E extends EventContract>(event: E, payload: EventPayload<E>): Promise<string> {
    return this.outbox.append(this.db.transactionManager(`appending ${event.type}`), event, payload);
  }
}

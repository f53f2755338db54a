import { Injectable } from '@nestjs/common';
import type { EventContract, EventPayload } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { Database } from '@homiwork/persistence';

/**
 * Identity's events, written to the outbox in the ambient transaction (Transactor.run or
 * an event handler's), so an event exists if and only if the change it announces was
 * committed (R8.2). Outside a transaction it throws instead of writing.
 */
@Injectable()
export class EventsOutbox {
  constructor(
    private readonly outbox: Outbox,
    private readonly db: Database,
  ) {}

  /** Validates the payload against the event's schema and appends it; returns the message id. */
  async append<E extends EventContract>(event: E, payload: EventPayload<E>): Promise<string> {
    return await this.outbox.append(this.db.transactionManager(`appending ${event.type}`), event, payload);
  }
}

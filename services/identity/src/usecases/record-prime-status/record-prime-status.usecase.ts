import { Injectable } from '@nestjs/common';
import type { EventPayload, PrimeStatusChangedV1 } from '@homiwork/contracts';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * Prime status is shown on the profile (GET /v1/me); billing owns it and announces every
 * change, and identity keeps a copy. Run from the event handler, so it commits with the
 * consumer's inbox record.
 */
@Injectable()
export class RecordPrimeStatus {
  constructor(private readonly users: UsersRepository) {}

  async execute(change: EventPayload<typeof PrimeStatusChangedV1>): Promise<void> {
    await this.users.setPrime(change.userId, { active: change.active, expiresAt: change.expiresAt ? new Date(change.expiresAt) : null });
  }
}

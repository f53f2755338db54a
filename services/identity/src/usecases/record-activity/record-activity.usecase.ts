import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Clock } from '@homiwork/clock';
import { UserSeenV1, type CallerContext } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { IdentityErrors } from '../../identity-errors.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * Last access, for the one-year inactivity rule (R1.6, §5.2): written at most once a day
 * per user (the UPDATE only changes an older day) and announced to retention then.
 */
@Injectable()
export class RecordActivity {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly outbox: Outbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(caller: CallerContext): Promise<Record<string, never>> {
    if (!caller.userId) throw IdentityErrors.unauthenticated();
    const userId = caller.userId;
    await this.dataSource.transaction((manager) => this.within(manager, userId));
    return {};
  }

  /** The day is the service clock's UTC date, never the caller's claim, so it cannot be pushed ahead. */
  async within(manager: EntityManager, userId: string): Promise<void> {
    const day = this.clock.now().toISOString().slice(0, 10);
    if (await this.users.recordSeen(manager, userId, day)) await this.outbox.append(manager, UserSeenV1, { userId, seenOn: day });
  }
}

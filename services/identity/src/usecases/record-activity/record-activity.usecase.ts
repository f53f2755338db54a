import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { UserSeenV1, type CallerContext } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { EventsOutbox } from '@homiwork/messaging';
import { IdentityErrors } from '../../identity-errors.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * Last access, for the one-year inactivity rule (R1.6, §5.2): written at most once a day
 * per user (the UPDATE only changes an older day) and announced to retention then.
 */
@Injectable()
export class RecordActivity {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(caller: CallerContext): Promise<Record<string, never>> {
    if (!caller.userId) throw IdentityErrors.unauthenticated();
    await this.recordFor(caller.userId);
    return {};
  }

  /**
   * Also part of a login (which joins its own transaction). The day is the service
   * clock's UTC date, never the caller's claim, so it cannot be pushed ahead.
   */
  recordFor(userId: string): Promise<void> {
    return this.transactor.run(async () => {
      const day = this.clock.now().toISOString().slice(0, 10);
      if (await this.users.recordSeen(userId, day)) await this.outbox.append(UserSeenV1, { userId, seenOn: day });
    });
  }
}

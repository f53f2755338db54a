import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { PurgeCompletedV1, type EventPayload } from '@homiwork/contracts';
import { UserDataKeys } from '@homiwork/data-keys';
import { EventsOutbox } from '@homiwork/messaging';
import { Transactor, UserTombstones } from '@homiwork/persistence';
import { ConversationsRepository } from '../../persistence/conversations.repository.js';
import { MessagesRepository } from '../../persistence/messages.repository.js';
import { PrimeStatusRepository } from '../../persistence/prime-status.repository.js';
import { ProcessingRestrictionsRepository } from '@homiwork/persistence';

type Trigger = EventPayload<typeof PurgeCompletedV1>['trigger'];

/**
 * R1.5: everything chat keeps about an erased user goes, confirmed with PurgeCompleted —
 * and the user's data key is destroyed in the same transaction (crypto-shredding), so
 * every copy of their messages anywhere, a database backup included, is unreadable from
 * the commit on (only a backup of the keys table could bring the key back, which is why its
 * backups expire within the erasure deadline).
 * The tombstone is recorded first, in the same transaction (the event handler's, which
 * this joins): it waits for every write of the user already under way to commit, so the
 * deletes below see it, and it refuses every later one. The rule for every write this
 * service ever makes for a user — inside the write's `Transactor.run`, before writing:
 *
 *     await this.tombstones.guard(userId); // throws UserErased once the user is purged
 */
@Injectable()
export class PurgeUser {
  constructor(
    private readonly transactor: Transactor,
    private readonly tombstones: UserTombstones,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly prime: PrimeStatusRepository,
    private readonly restrictions: ProcessingRestrictionsRepository,
    private readonly keys: UserDataKeys,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  execute(userId: string, erasureId: string, trigger: Trigger): Promise<void> {
    return this.transactor.run(async () => {
      const now = this.clock.now();
      await this.tombstones.record(userId, now);
      const messages = await this.messages.deleteAllOfUser(userId);
      const conversations = await this.conversations.deleteAllOfUser(userId);
      const primeStatus = await this.prime.deleteOfUser(userId);
      await this.restrictions.deleteOfUser(userId);
      const dataKeys = await this.keys.destroy(userId);
      await this.outbox.append(PurgeCompletedV1, {
        service: 'chat',
        userId,
        erasureId,
        scope: 'user',
        scopeId: userId,
        trigger,
        counts: { messages, conversations, prime_status: primeStatus, data_keys: dataKeys },
        purgedAt: now.toISOString(),
      });
    });
  }
}

import { Injectable } from '@nestjs/common';
import { ChatConsumers, UserDeletedV1, type EventPayload } from '@homiwork/contracts';
import type { EventContext } from '@homiwork/messaging';
import { OnEvent } from '@homiwork/service-kit';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';

/**
 * Chat's request/reply routes and event handlers: each hands over to one use case.
 * Event handlers run inside the consumer's transaction, which the use cases join.
 */
@Injectable()
export class ChatHandlers {
  constructor(
    private readonly purgeUser: PurgeUser,
  ) {}

  /** R1.5: the user's data goes and a tombstone stays. The message id is the receipt's trigger: stable across redeliveries. */
  @OnEvent(ChatConsumers.userDeleted)
  userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    return this.purgeUser.execute(payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }
}

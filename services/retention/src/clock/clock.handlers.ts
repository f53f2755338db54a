import { Injectable } from '@nestjs/common';
import {
  RetentionConsumers,
  type ContentCreatedV1,
  type ContentDeletedV1,
  type ContentRestoredV1,
  type EventPayload,
  type GenerationFinishedV1,
  type PrimeStatusChangedV1,
  type UploadStoredV1,
  type UserRegisteredV1,
  type UserSeenV1,
} from '@homiwork/contracts';
import { OnEvent } from '@homiwork/service-kit';
import { RecordFacts } from './record-facts.usecase.js';

/**
 * The lifecycle facts the policy clock learns: each handler hands the event to RecordFacts,
 * inside the consumer's transaction (the inbox record commits with the due item).
 */
@Injectable()
export class ClockHandlers {
  constructor(private readonly facts: RecordFacts) {}

  @OnEvent(RetentionConsumers.userRegistered)
  async userRegistered(payload: EventPayload<typeof UserRegisteredV1>): Promise<void> {
    await this.facts.registered(payload);
  }

  @OnEvent(RetentionConsumers.userSeen)
  async userSeen(payload: EventPayload<typeof UserSeenV1>): Promise<void> {
    await this.facts.seen(payload);
  }

  @OnEvent(RetentionConsumers.uploadStored)
  async uploadStored(payload: EventPayload<typeof UploadStoredV1>): Promise<void> {
    await this.facts.uploadStored(payload);
  }

  @OnEvent(RetentionConsumers.contentCreated)
  async contentCreated(payload: EventPayload<typeof ContentCreatedV1>): Promise<void> {
    await this.facts.contentCreated(payload);
  }

  @OnEvent(RetentionConsumers.contentDeleted)
  async contentDeleted(payload: EventPayload<typeof ContentDeletedV1>): Promise<void> {
    await this.facts.contentDeleted(payload);
  }

  @OnEvent(RetentionConsumers.contentRestored)
  async contentRestored(payload: EventPayload<typeof ContentRestoredV1>): Promise<void> {
    await this.facts.contentRestored(payload);
  }

  /** Only purpose `chat` counts (chat activity of a user and UTC day). */
  @OnEvent(RetentionConsumers.generationFinished)
  async generationFinished(payload: EventPayload<typeof GenerationFinishedV1>): Promise<void> {
    await this.facts.generationFinished(payload);
  }

  @OnEvent(RetentionConsumers.primeStatusChanged)
  async primeStatusChanged(payload: EventPayload<typeof PrimeStatusChangedV1>): Promise<void> {
    await this.facts.primeStatusChanged(payload);
  }
}

import { describe, expect, it } from 'vitest';
import { EVENT_CATALOGUE } from './catalogue.js';
import { InvalidEventPayloadError, parseEventPayload } from './event-contract.js';
import { UserDeletedV1 } from './events/user-deleted.v1.js';
import { defineConsumer, eventSubject } from './names.js';

const personalKeys = /email|username|name|ip|address|prompt|text|password|token/i;

describe('event catalogue', () => {
  it('has one stored type and subject per event', () => {
    const types = EVENT_CATALOGUE.map((event) => event.type);
    const subjects = EVENT_CATALOGUE.map((event) => eventSubject('hw', event));
    expect(new Set(types).size).toBe(types.length);
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(eventSubject('hw', UserDeletedV1)).toBe('hw.evt.identity.user-deleted.v1');
  });

  it('starts with the events every service depends on', () => {
    const types = EVENT_CATALOGUE.map((event) => event.type);
    for (const required of ['UserDeleted.v1', 'ContentExpired.v1', 'UploadExpired.v1', 'PrimeStatusChanged.v1', 'AccountBlocked.v1', 'PurgeCompleted.v1']) {
      expect(types).toContain(required);
    }
  });

  it('declares no field that could carry personal data', () => {
    for (const event of EVENT_CATALOGUE) {
      const shape = (event.schema as unknown as { shape: Record<string, unknown> }).shape;
      for (const key of Object.keys(shape)) expect(key, `${event.type}.${key}`).not.toMatch(personalKeys);
    }
  });

  it('rejects extra fields, so personal data cannot be slipped into an event', () => {
    const valid = { userId: crypto.randomUUID(), erasureId: crypto.randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() };
    expect(parseEventPayload(UserDeletedV1, valid)).toEqual(valid);
    expect(() => parseEventPayload(UserDeletedV1, { ...valid, email: 'a@example.com' })).toThrow(InvalidEventPayloadError);
  });

  it('names a schema error by path and rule, never by value', () => {
    try {
      parseEventPayload(UserDeletedV1, { userId: 'alice@example.com', erasureId: crypto.randomUUID(), reason: 'user_request', deletedAt: 'yesterday' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/userId: invalid_format/);
      expect((error as Error).message).toMatch(/deletedAt/);
      expect((error as Error).message).not.toContain('alice');
    }
  });

  it('derives stable durable names and a backoff that bounds redelivery', () => {
    const consumer = defineConsumer({ service: 'media', event: UserDeletedV1 });
    expect(consumer.durableName).toBe('media--user-deleted-v1');
    expect(consumer.maxDeliver).toBe(consumer.backoffMs.length + 1);
  });
});

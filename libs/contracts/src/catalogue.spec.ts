import { describe, expect, it } from 'vitest';
import { EVENT_CATALOGUE } from './catalogue.js';
import { InvalidEventPayloadError, parseEventPayload } from './event-contract.js';
import { GenerationFinishedV1 } from './events/generation-finished.v1.js';
import { ProhibitedContentDetectedV1 } from './events/prohibited-content-detected.v1.js';
import { PurgeCompletedV1 } from './events/purge-completed.v1.js';
import { UserDeletedV1 } from './events/user-deleted.v1.js';
import { defineConsumer, eventFilterSubject, eventPublisherOf, eventSubject, publisherMismatch } from './names.js';

const personalKeys = /email|username|name|ip|address|prompt|text|password|token/i;

describe('event catalogue', () => {
  it('has one stored type and subject per event', () => {
    const types = EVENT_CATALOGUE.map((event) => event.type);
    const subjects = EVENT_CATALOGUE.map((event) => eventFilterSubject('hw', event));
    expect(new Set(types).size).toBe(types.length);
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(eventSubject('hw', UserDeletedV1)).toBe('hw.evt.identity.user-deleted.v1');
  });

  it("publishes an event several services announce under the publisher's own name, which its payload must repeat", () => {
    expect(() => eventSubject('hw', PurgeCompletedV1)).toThrow(/names the publisher/);
    expect(() => eventSubject('hw', PurgeCompletedV1, 'media.>')).toThrow(/names the publisher/);
    const fromMedia = eventSubject('hw', PurgeCompletedV1, 'media');
    expect(fromMedia).toBe('hw.evt.media.purge-completed.v1');
    expect(eventFilterSubject('hw', PurgeCompletedV1)).toBe('hw.evt.*.purge-completed.v1');
    expect(eventPublisherOf('hw', PurgeCompletedV1, fromMedia)).toBe('media');
    expect(eventPublisherOf('hw', PurgeCompletedV1, 'hw.evt.gateway.purge-completed.v1')).toBeUndefined(); // not one of its publishers
    expect(eventPublisherOf('hw', PurgeCompletedV1, 'hw.evt.identity.user-deleted.v1')).toBeUndefined();
    expect(eventPublisherOf('hw', UserDeletedV1, 'hw.evt.identity.user-deleted.v1')).toBe('identity');
    expect(publisherMismatch('hw', PurgeCompletedV1, fromMedia, { service: 'media' })).toBeUndefined();
    expect(publisherMismatch('hw', PurgeCompletedV1, fromMedia, { service: 'identity' })).toMatch(/media may not announce what it says/);
    const finished = (purpose: string) => ({ userId: crypto.randomUUID(), jobId: crypto.randomUUID(), purpose, outcome: 'failed', finishedAt: new Date().toISOString() });
    expect(publisherMismatch('hw', GenerationFinishedV1, eventSubject('hw', GenerationFinishedV1, 'chat'), finished('chat'))).toBeUndefined();
    expect(publisherMismatch('hw', GenerationFinishedV1, eventSubject('hw', GenerationFinishedV1, 'chat'), finished('song'))).toMatch(/chat may not announce/);
    expect(publisherMismatch('hw', GenerationFinishedV1, eventSubject('hw', GenerationFinishedV1, 'generation'), finished('chat'))).toMatch(/generation may not announce/);
    const detected = (subjectKind: string) => ({ userId: crypto.randomUUID(), subjectKind, rule: 'r', detectedAt: new Date().toISOString() });
    expect(publisherMismatch('hw', ProhibitedContentDetectedV1, eventSubject('hw', ProhibitedContentDetectedV1, 'chat'), detected('prompt'))).toBeUndefined();
    expect(publisherMismatch('hw', ProhibitedContentDetectedV1, eventSubject('hw', ProhibitedContentDetectedV1, 'chat'), detected('upload'))).toMatch(/chat may not announce/);
    expect(publisherMismatch('hw', PurgeCompletedV1, 'hw.evt.gateway.purge-completed.v1', { service: 'gateway' })).toMatch(/none of its publishers/);
    expect(publisherMismatch('hw', UserDeletedV1, 'hw.evt.identity.user-deleted.v1', {})).toBeUndefined();
    // Stored under the subject all announcers once shared: read as then (permissions let no one publish it now).
    expect(eventPublisherOf('hw', PurgeCompletedV1, 'hw.evt.any.purge-completed.v1')).toBe('any');
    expect(publisherMismatch('hw', PurgeCompletedV1, 'hw.evt.any.purge-completed.v1', { service: 'media' })).toBeUndefined();
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

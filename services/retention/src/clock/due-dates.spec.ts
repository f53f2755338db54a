import { describe, expect, it } from 'vitest';
import {
  chatDaySubjectId,
  chatHistoryDueAt,
  contentDueAt,
  endOfDay,
  inactivityDueAt,
  primePlan,
  standardDueAt,
  trashedContentDueAt,
  uploadDueAt,
  utcDay,
} from './due-dates.js';

const at = (iso: string) => new Date(iso);

describe('uploads (§5.3)', () => {
  it('are due when media says they expire', () => {
    expect(uploadDueAt(at('2026-01-01T10:00:00Z'), at('2026-01-08T10:00:00Z'))).toEqual(at('2026-01-08T10:00:00Z'));
    expect(uploadDueAt(at('2026-01-01T10:00:00Z'), at('2026-01-05T00:00:00Z'))).toEqual(at('2026-01-05T00:00:00Z'));
  });
  it('never later than 7 days after being stored, whatever the event says', () => {
    expect(uploadDueAt(at('2026-01-01T10:00:00Z'), at('2026-03-01T00:00:00Z'))).toEqual(at('2026-01-08T10:00:00Z'));
  });
});

describe('content (§5.4)', () => {
  const created = at('2026-01-01T12:00:00Z');
  it('of a user who never had Prime is due 90 days after creation', () => {
    expect(contentDueAt(created, undefined)).toEqual(at('2026-04-01T12:00:00Z'));
  });
  it('has no due date while Prime is active', () => {
    expect(contentDueAt(created, { active: true, expiresAt: at('2027-01-01T00:00:00Z'), changedAt: at('2026-01-01T00:00:00Z') })).toBeNull();
  });
  it('counts from the end of the last Prime period when that is later than creation', () => {
    const ended = { active: false, expiresAt: at('2026-02-01T00:00:00Z'), changedAt: at('2026-02-01T00:00:05Z') };
    expect(contentDueAt(created, ended)).toEqual(at('2026-05-02T00:00:00Z'));
  });
  it('takes the change time as the end when the ending event carried no expiry', () => {
    expect(contentDueAt(created, { active: false, expiresAt: null, changedAt: at('2026-03-01T00:00:00Z') })).toEqual(at('2026-05-30T00:00:00Z'));
  });
  it('is not moved earlier by a Prime period that ended before creation', () => {
    expect(contentDueAt(created, { active: false, expiresAt: at('2025-06-01T00:00:00Z'), changedAt: at('2025-06-01T00:00:00Z') })).toEqual(at('2026-04-01T12:00:00Z'));
  });
  it('in the trash is due 7 days after the delete, Prime or not', () => {
    expect(trashedContentDueAt(at('2026-01-10T08:00:00Z'))).toEqual(at('2026-01-17T08:00:00Z'));
  });
  it('the plan the SQL re-plan applies is the same rule', () => {
    const prime = { active: false, expiresAt: at('2026-02-01T00:00:00Z'), changedAt: at('2026-02-01T00:00:00Z') };
    expect(standardDueAt(created, primePlan(prime), 90)).toEqual(contentDueAt(created, prime));
    expect(primePlan({ active: true, expiresAt: null, changedAt: created })).toEqual({ kept: true });
  });
});

describe('chat history (§5.5)', () => {
  it('of one day is due 90 days after that day ended', () => {
    expect(chatHistoryDueAt('2026-01-01', undefined)).toEqual(at('2026-04-02T00:00:00Z'));
  });
  it('follows the same Prime rule as content', () => {
    expect(chatHistoryDueAt('2026-01-01', { active: true, expiresAt: null, changedAt: at('2026-01-01T00:00:00Z') })).toBeNull();
    expect(chatHistoryDueAt('2026-01-01', { active: false, expiresAt: at('2026-03-01T00:00:00Z'), changedAt: at('2026-03-01T00:00:00Z') })).toEqual(at('2026-05-30T00:00:00Z'));
  });
  it('keys a user and day to one stable opaque UUID (version 8)', () => {
    const user = '0b6f4a52-4f0e-4e7c-9d1e-3f2b8d1c5a77';
    const id = chatDaySubjectId(user, '2026-01-01');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(chatDaySubjectId(user.toUpperCase(), '2026-01-01')).toBe(id);
    expect(chatDaySubjectId(user, '2026-01-02')).not.toBe(id);
    expect(chatDaySubjectId('1b6f4a52-4f0e-4e7c-9d1e-3f2b8d1c5a77', '2026-01-01')).not.toBe(id);
  });
});

describe('inactive accounts (§5.2, §10.3)', () => {
  it('are warned 4 weeks before, and erased 365 days after, the end of the last day seen', () => {
    const { warningAt, erasureAt } = inactivityDueAt('2026-01-01');
    expect(erasureAt).toEqual(at('2027-01-02T00:00:00Z'));
    expect(warningAt).toEqual(at('2026-12-05T00:00:00Z'));
    expect(erasureAt.getTime() - warningAt.getTime()).toBe(28 * 24 * 3600 * 1000);
  });
});

describe('days', () => {
  it('are UTC days', () => {
    expect(utcDay(at('2026-01-01T23:59:59.999Z'))).toBe('2026-01-01');
    expect(endOfDay('2026-12-31')).toEqual(at('2027-01-01T00:00:00Z'));
    expect(() => endOfDay('2026-13-40')).toThrow(RangeError);
    expect(() => endOfDay('yesterday')).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { addDays } from '@homiwork/clock';
import { isMessageDue, messageExpiresAt } from './chat-retention.js';

const written = new Date('2026-01-10T12:00:00.000Z');

describe('§5.5 chat retention rule', () => {
  it('without Prime ever: written + retention days', () => {
    expect(messageExpiresAt(written, undefined, 90)).toEqual(addDays(written, 90));
    expect(isMessageDue(written, undefined, 90, addDays(written, 90))).toBe(true);
    expect(isMessageDue(written, undefined, 90, addDays(written, 89.99))).toBe(false);
  });

  it('while Prime is active nothing expires, however old', () => {
    const prime = { active: true, expiresAt: addDays(written, 30), changedAt: written };
    expect(messageExpiresAt(written, prime, 90)).toBeNull();
    expect(isMessageDue(written, prime, 90, addDays(written, 10_000))).toBe(false);
  });

  it('after Prime ended: counted from the end of the period when that is later than the message', () => {
    const end = addDays(written, 200);
    const prime = { active: false, expiresAt: end, changedAt: addDays(written, 201) };
    expect(messageExpiresAt(written, prime, 90)).toEqual(addDays(end, 90));
    // A message written after Prime ended counts from its own time.
    const later = addDays(end, 5);
    expect(messageExpiresAt(later, prime, 90)).toEqual(addDays(later, 90));
  });

  it('an ended status without expiresAt counts from changedAt', () => {
    const prime = { active: false, expiresAt: null, changedAt: addDays(written, 10) };
    expect(messageExpiresAt(written, prime, 60)).toEqual(addDays(written, 70));
  });
});

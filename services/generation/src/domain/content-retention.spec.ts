import { describe, expect, it } from 'vitest';
import { addDays } from '@homiwork/clock';
import { contentExpiresAt, expiryPlan, type PrimeStatus } from './content-retention.js';

const created = new Date('2026-01-10T12:00:00.000Z');
const DAYS = 90;
const ended = (expiresAt: Date | null, changedAt = new Date('2026-03-01T00:00:00.000Z')): PrimeStatus => ({ active: false, expiresAt, changedAt });

describe('the retention rule of generated content (§5.4)', () => {
  it('without Prime, ever: created + 90 days', () => {
    expect(contentExpiresAt(created, expiryPlan(undefined), DAYS)).toEqual(new Date('2026-04-10T12:00:00.000Z'));
  });

  it('90 days is inside the policy’s 2–4 months for any creation date', () => {
    for (let day = 0; day < 366; day += 1) {
      const at = addDays(new Date('2026-01-01T00:00:00.000Z'), day);
      const expires = contentExpiresAt(at, expiryPlan(undefined), DAYS)!;
      const twoMonths = new Date(at);
      twoMonths.setUTCMonth(twoMonths.getUTCMonth() + 2);
      const fourMonths = new Date(at);
      fourMonths.setUTCMonth(fourMonths.getUTCMonth() + 4);
      expect(expires.getTime()).toBeGreaterThanOrEqual(twoMonths.getTime());
      expect(expires.getTime()).toBeLessThanOrEqual(fourMonths.getTime());
    }
  });

  it('while Prime is active: no expiry, whatever the period’s end date', () => {
    expect(contentExpiresAt(created, expiryPlan({ active: true, expiresAt: addDays(created, 30), changedAt: created }), DAYS)).toBeNull();
    expect(contentExpiresAt(created, expiryPlan({ active: true, expiresAt: null, changedAt: created }), DAYS)).toBeNull();
  });

  it('after Prime ended: the later of creation and the end of the last period, + 90 days', () => {
    const end = new Date('2026-06-01T00:00:00.000Z');
    // Made during Prime (or before it): the full 90 days count from the end.
    expect(contentExpiresAt(created, expiryPlan(ended(end)), DAYS)).toEqual(addDays(end, DAYS));
    // Made after Prime ended: the standard rule.
    const later = new Date('2026-07-01T00:00:00.000Z');
    expect(contentExpiresAt(later, expiryPlan(ended(end)), DAYS)).toEqual(addDays(later, DAYS));
  });

  it('an ended Prime without an end date counts from when it ended', () => {
    const changedAt = new Date('2026-05-05T05:05:05.000Z');
    expect(expiryPlan(ended(null, changedAt))).toEqual({ kept: false, notBefore: changedAt });
    expect(contentExpiresAt(created, expiryPlan(ended(null, changedAt)), DAYS)).toEqual(addDays(changedAt, DAYS));
  });

  it('never expires content before created + 90 days, however Prime went', () => {
    for (const prime of [undefined, ended(new Date('2025-01-01T00:00:00.000Z')), ended(null, new Date('2025-06-01T00:00:00.000Z')), ended(addDays(created, 400))]) {
      expect(contentExpiresAt(created, expiryPlan(prime), DAYS)!.getTime()).toBeGreaterThanOrEqual(addDays(created, DAYS).getTime());
    }
  });
});

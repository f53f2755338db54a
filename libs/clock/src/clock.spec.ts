import { describe, expect, it } from 'vitest';
import { addDays, DAY_MS, ShiftableClock } from './clock.js';

describe('ShiftableClock', () => {
  it('moves forward by the amount asked, so tests need not sleep', () => {
    const clock = new ShiftableClock();
    const before = clock.nowMs();
    clock.advance(7 * DAY_MS);
    expect(clock.nowMs() - before).toBeGreaterThanOrEqual(7 * DAY_MS);
    expect(clock.nowMs() - before).toBeLessThan(7 * DAY_MS + 1000);
  });

  it('refuses to move back, which would let expired things come alive again', () => {
    const clock = new ShiftableClock();
    clock.advance(DAY_MS);
    expect(() => clock.setOffset(0)).toThrow(RangeError);
    expect(() => clock.setOffset(Number.NaN)).toThrow(RangeError);
  });

  it('adds whole days', () => {
    expect(addDays(new Date('2026-01-01T00:00:00Z'), 7).toISOString()).toBe('2026-01-08T00:00:00.000Z');
  });
});

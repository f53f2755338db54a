import { describe, expect, it } from 'vitest';
import { retainUntil } from './transaction-retention.js';

describe('retainUntil', () => {
  it('adds calendar years in UTC', () => {
    expect(retainUntil(new Date('2025-12-03T13:31:00.000Z'), 5).toISOString()).toBe('2030-12-03T13:31:00.000Z');
    expect(retainUntil(new Date('2028-02-29T00:00:00.000Z'), 5).toISOString()).toBe('2033-03-01T00:00:00.000Z');
  });
});

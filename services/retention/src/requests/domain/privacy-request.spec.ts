import { describe, expect, it } from 'vitest';
import { dueDate, initialStatus, isOverdue } from './privacy-request.js';

describe('privacy request rules', () => {
  it('due in 30 days, 45 under CCPA (§9.5)', () => {
    const created = new Date('2026-01-31T10:00:00.000Z');
    expect(dueDate(created, 'gdpr').toISOString()).toBe('2026-03-02T10:00:00.000Z');
    expect(dueDate(created, 'ccpa').toISOString()).toBe('2026-03-17T10:00:00.000Z');
  });

  it('overdue only while open and past the due date; a restriction in force is never overdue', () => {
    const dueAt = new Date('2026-03-02T10:00:00.000Z');
    const after = new Date(dueAt.getTime() + 1);
    expect(isOverdue({ status: 'in_progress', dueAt }, after)).toBe(true);
    expect(isOverdue({ status: 'awaiting_verification', dueAt }, after)).toBe(true);
    expect(isOverdue({ status: 'in_progress', dueAt }, dueAt)).toBe(false);
    expect(isOverdue({ status: 'completed', dueAt }, after)).toBe(false);
    expect(isOverdue({ status: 'in_force', dueAt }, after)).toBe(false);
  });

  it('starting statuses by type', () => {
    expect(initialStatus('restriction', false)).toBe('in_force');
    expect(initialStatus('objection', false)).toBe('in_force');
    expect(initialStatus('consent_withdrawal', false)).toBe('completed');
    expect(initialStatus('opt_out_of_sale', false)).toBe('completed');
    expect(initialStatus('erasure', false)).toBe('awaiting_verification');
    expect(initialStatus('erasure', true)).toBe('in_progress');
    expect(initialStatus('export', false)).toBe('in_progress');
    expect(initialStatus('access', false)).toBe('in_progress');
  });
});

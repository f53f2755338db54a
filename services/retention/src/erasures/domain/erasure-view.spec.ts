import { describe, expect, it } from 'vitest';
import { erasureView, isOverdue, missingServices, publicErasureView, type ErasureRecord } from './erasure-view.js';

const base: ErasureRecord = {
  id: '0b6e2a8e-4f6a-4c8e-9d1e-2f1a3b4c5d6e',
  userId: '1b6e2a8e-4f6a-4c8e-9d1e-2f1a3b4c5d6e',
  reason: 'user_request',
  status: 'in_progress',
  requestedAt: new Date('2026-01-01T00:00:00.000Z'),
  approvedAt: new Date('2026-01-01T00:00:01.000Z'),
  deadlineAt: new Date('2026-01-02T00:00:00.000Z'),
  completedAt: null,
  expectedServices: ['identity', 'media', 'chat'],
  jws: null,
  receipts: [
    { service: 'chat', purgedAt: new Date('2026-01-01T00:00:03.000Z'), counts: { messages: 2, conversations: 1 } },
    { service: 'identity', purgedAt: new Date('2026-01-01T00:00:02.000Z'), counts: { users: 1 } },
  ],
};

describe('erasure view', () => {
  it('orders receipts by the expected services and counts by name, and never shows the user', () => {
    const view = erasureView(base, new Date('2026-01-01T01:00:00.000Z'));
    expect(view.receipts.map((receipt) => receipt.service)).toEqual(['identity', 'chat']);
    expect(JSON.stringify(view.receipts[1]!.counts)).toBe('{"conversations":1,"messages":2}');
    expect(Object.keys(view)).toEqual(['id', 'status', 'reason', 'requestedAt', 'deadlineAt', 'overdue', 'expectedServices', 'receipts']);
    expect(JSON.stringify(view)).not.toContain(base.userId!);
    // Built again from the same record in another order: the same JSON.
    expect(JSON.stringify(erasureView({ ...base, receipts: [...base.receipts].reverse() }, new Date('2026-01-01T01:00:00.000Z')))).toBe(JSON.stringify(view));
  });

  it('is overdue only when in progress and past the deadline (held and completed ones are not)', () => {
    expect(isOverdue(base, new Date('2026-01-02T00:00:00.000Z'))).toBe(false);
    expect(isOverdue(base, new Date('2026-01-02T00:00:00.001Z'))).toBe(true);
    expect(isOverdue({ ...base, status: 'completed' }, new Date('2027-01-01T00:00:00.000Z'))).toBe(false);
    expect(isOverdue({ ...base, status: 'held' }, new Date('2027-01-01T00:00:00.000Z'))).toBe(false);
  });

  it('lists the services still to confirm', () => {
    expect(missingServices(base)).toEqual(['media']);
  });

  it('shows a held erasure publicly as in progress and never overdue, the same otherwise as the operators see it', () => {
    const held: ErasureRecord = { ...base, status: 'held', approvedAt: null, receipts: [] };
    const late = new Date('2027-01-01T00:00:00.000Z');
    const view = publicErasureView(held, late);
    expect(view).toEqual({ ...erasureView(held, late), status: 'in_progress', overdue: false });
    expect(erasureView(held, late).status).toBe('held');
    expect(JSON.stringify(view)).not.toContain('held');
    // Not held: the public view is the operators' view.
    expect(publicErasureView(base, late)).toEqual(erasureView(base, late));
  });

  it('serves a completed erasure as exactly what its JWS signed', () => {
    const payload = JSON.stringify({ id: base.id, status: 'completed', marker: 1 });
    const jws = `h.${Buffer.from(payload).toString('base64url')}.s`;
    const view = publicErasureView({ ...base, status: 'completed', completedAt: new Date(), jws, userId: null }, new Date());
    expect(view).toEqual({ ...JSON.parse(payload), jws });
  });
});

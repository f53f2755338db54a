import type { DATA_OWNING_SERVICES, RetentionRpc } from '@homiwork/contracts';

export type DataOwningService = (typeof DATA_OWNING_SERVICES)[number];
export type ErasureStatus = 'held' | 'in_progress' | 'completed';

/** An erasure as retention keeps it (the `erasures` row and its `erasure_receipts`). */
export interface ErasureRecord {
  id: string;
  userId: string | null;
  reason: string;
  status: ErasureStatus;
  requestedAt: Date;
  approvedAt: Date | null;
  deadlineAt: Date;
  completedAt: Date | null;
  expectedServices: DataOwningService[];
  jws: string | null;
  receipts: Array<{ service: DataOwningService; purgedAt: Date; counts: Record<string, number> }>;
}

/**
 * The reason an erasure shows while only receipts have been seen of it: its
 * ErasureRequested has not arrived yet (events on different subjects arrive in any order).
 */
export const REASON_NOT_YET_KNOWN = 'not_yet_known';

/**
 * Overdue (R7.4): in progress and past its deadline. A held erasure is not overdue — the law
 * (§12.2) stops it, not a failure — and its deadline starts again when the hold is released.
 */
export function isOverdue(record: Pick<ErasureRecord, 'status' | 'deadlineAt'>, now: Date): boolean {
  return record.status === 'in_progress' && now.getTime() > record.deadlineAt.getTime();
}

/** The services still to confirm, in the order they were expected. */
export function missingServices(record: Pick<ErasureRecord, 'expectedServices' | 'receipts'>): DataOwningService[] {
  const confirmed = new Set(record.receipts.map((receipt) => receipt.service));
  return record.expectedServices.filter((service) => !confirmed.has(service));
}

function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The ErasureView without `jws`, its keys in one fixed order, the receipts in the order
 * of the expected services and each receipt's counts by name: built twice from the same
 * record it gives the same JSON, which is what the receipt signs.
 */
export function erasureView(record: ErasureRecord, now: Date): Omit<RetentionRpc.ErasureView, 'jws'> {
  const order = new Map(record.expectedServices.map((service, index) => [service, index]));
  const receipts = [...record.receipts]
    .sort((a, b) => (order.get(a.service) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.service) ?? Number.MAX_SAFE_INTEGER) || (a.service < b.service ? -1 : 1))
    .map((receipt) => ({ service: receipt.service, purgedAt: receipt.purgedAt.toISOString(), counts: sortedCounts(receipt.counts) }));
  return {
    id: record.id,
    status: record.status,
    reason: record.reason,
    requestedAt: record.requestedAt.toISOString(),
    deadlineAt: record.deadlineAt.toISOString(),
    overdue: isOverdue(record, now),
    ...(record.completedAt ? { completedAt: record.completedAt.toISOString() } : {}),
    expectedServices: [...record.expectedServices],
    receipts,
  };
}

/**
 * What GET /v1/privacy/erasures/:id answers. A completed erasure answers exactly the JSON
 * its JWS signed (decoded from the JWS itself, so the two can never differ) plus `jws`.
 * A held erasure answers `in_progress`, not overdue: the public view must not tell the
 * subject of an investigation that a legal hold stands (exports leave holds out too); only
 * the operators' list shows `held`.
 */
export function publicErasureView(record: ErasureRecord, now: Date): RetentionRpc.ErasureView {
  if (record.status === 'completed' && record.jws) {
    const payload = record.jws.split('.')[1]!;
    return { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Omit<RetentionRpc.ErasureView, 'jws'>), jws: record.jws };
  }
  if (record.status === 'held') return { ...erasureView(record, now), status: 'in_progress', overdue: false };
  return erasureView(record, now);
}

/**
 * A row created from a receipt before its ErasureRequested arrived: in progress (a service
 * has purged, so identity deleted on an approval) but without the request's facts. Every
 * erasure opened from its request has `approvedAt` unless it is held.
 */
export function isOnlySeenFromReceipts(record: Pick<ErasureRecord, 'status' | 'approvedAt'>): boolean {
  return record.status === 'in_progress' && record.approvedAt === null;
}

export function deadlineOf(requestedAt: Date, hours: number): Date {
  return new Date(requestedAt.getTime() + hours * 3_600_000);
}

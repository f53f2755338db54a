import { PRIVACY_REQUEST_DEADLINE_DAYS, type RetentionRpc } from '@homiwork/contracts';

export type PrivacyRequestType = RetentionRpc.PrivacyRequestType;
export type PrivacyRegime = keyof typeof PRIVACY_REQUEST_DEADLINE_DAYS;
export type PrivacyRequestStatus = RetentionRpc.PrivacyRequestView['status'];

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The statuses of a request still open: at most one per user and type (the unique partial
 * index `privacy_requests_one_open` says the same in the database — keep them equal).
 */
export const OPEN_STATUSES = ['awaiting_verification', 'in_progress', 'in_force'] as const satisfies readonly PrivacyRequestStatus[];

export function isOpen(status: PrivacyRequestStatus): boolean {
  return (OPEN_STATUSES as readonly string[]).includes(status);
}

/** §9.5: 30 calendar days from receipt, 45 under CCPA. */
export function dueDate(createdAt: Date, regime: PrivacyRegime): Date {
  return new Date(createdAt.getTime() + PRIVACY_REQUEST_DEADLINE_DAYS[regime] * DAY_MS);
}

/** Overdue: not final and past its legal due date. */
export function isOverdue(request: { status: PrivacyRequestStatus; dueAt: Date }, now: Date): boolean {
  return isOpen(request.status) && request.status !== 'in_force' && now.getTime() > request.dueAt.getTime();
}

/** Restriction and objection both stop processing while in force (R7.3). */
export const RESTRICTING_TYPES = ['restriction', 'objection'] as const satisfies readonly PrivacyRequestType[];

export function isRestricting(type: PrivacyRequestType): boolean {
  return (RESTRICTING_TYPES as readonly string[]).includes(type);
}

/** The types answered by an archive of the user's data (R7.1). */
export function isExport(type: PrivacyRequestType): boolean {
  return type === 'access' || type === 'export';
}

/** Recorded and effective at once: nothing else to carry out (see docs/policy-traceability.md). */
export function isRecordOnly(type: PrivacyRequestType): boolean {
  return type === 'consent_withdrawal' || type === 'opt_out_of_sale';
}

/**
 * What a new request starts as: restriction/objection apply at once (`in_force`),
 * consent withdrawal and opt-out are recorded (`completed`), an erasure waits for the
 * password unless it came with it, an export is built (`in_progress`).
 */
export function initialStatus(type: PrivacyRequestType, verified: boolean): PrivacyRequestStatus {
  if (isRestricting(type)) return 'in_force';
  if (isRecordOnly(type)) return 'completed';
  if (type === 'erasure') return verified ? 'in_progress' : 'awaiting_verification';
  return 'in_progress';
}

import { createHash } from 'node:crypto';
import { addDays, DAY_MS } from '@homiwork/clock';
import { RETENTION_SCHEDULE } from '@homiwork/contracts';

/**
 * The policy clock's due-date rules (§5, RETENTION_SCHEDULE), as pure functions. The
 * repository applies the same rules in SQL where it must change many rows in one statement
 * (a Prime change re-plans every content and chat row of the user): it takes the
 * `PrimePlan` computed here and applies `max(basis, notBefore) + days` to each row, so the
 * two cannot disagree about anything but arithmetic, which the integration tests check.
 */

/** The kinds of due item (due_items.kind). */
export type DueKind = 'upload' | 'content' | 'chat_history' | 'inactive_warning' | 'inactive_erasure';

export const UPLOAD_DAYS = RETENTION_SCHEDULE.uploads.days;
export const CONTENT_DAYS = RETENTION_SCHEDULE.generatedContent.days;
export const TRASH_DAYS = RETENTION_SCHEDULE.deletedContent.days;
export const CHAT_DAYS = RETENTION_SCHEDULE.chatHistory.days;
export const INACTIVE_ERASURE_DAYS = RETENTION_SCHEDULE.inactiveAccounts.days;
export const INACTIVE_WARNING_DAYS = RETENTION_SCHEDULE.inactiveAccountWarning.days;

/** Retention's copy of the user's newest PrimeStatusChanged (prime_status). */
export interface PrimeStatus {
  active: boolean;
  /** The end of the current period (active) or of the last one (ended); null when billing gave none. */
  expiresAt: Date | null;
  changedAt: Date;
}

/**
 * What the user's Prime status means for all their content and chat history: kept (no
 * due date while Prime is active), or due `days` after max(basis, notBefore), where
 * notBefore is the end of the last Prime period (null: never had Prime).
 *
 * The end of an ended period is the `expiresAt` the ending PrimeStatusChanged carried, or
 * its `changedAt` when it carried none — generation's expiryPlan and chat's
 * messageExpiresAt read it the same way, so retention fires when their own rules agree.
 */
export type PrimePlan = { kept: true } | { kept: false; notBefore: Date | null };

export function primePlan(prime: PrimeStatus | undefined): PrimePlan {
  if (!prime) return { kept: false, notBefore: null };
  if (prime.active) return { kept: true };
  return { kept: false, notBefore: prime.expiresAt ?? prime.changedAt };
}

/** max(basis, notBefore) + days, or null while Prime keeps it. */
export function standardDueAt(basis: Date, plan: PrimePlan, days: number): Date | null {
  if (plan.kept) return null;
  const from = plan.notBefore && plan.notBefore > basis ? plan.notBefore : basis;
  return addDays(from, days);
}

/**
 * §5.3: an upload is due when media said it expires (UploadStored.expiresAt, media's own
 * computation from the same schedule entry, which its safety-net sweep and the user's view
 * also use), but never later than storedAt + 7 days: a producer bug cannot stretch the
 * policy's promise.
 */
export function uploadDueAt(storedAt: Date, expiresAt: Date): Date {
  const limit = addDays(storedAt, UPLOAD_DAYS);
  return expiresAt < limit ? expiresAt : limit;
}

/** §5.4: generated content, not in the trash. createdAt + 90 d, after the end of the last Prime period; null while Prime is active. */
export function contentDueAt(createdAt: Date, prime: PrimeStatus | undefined): Date | null {
  return standardDueAt(createdAt, primePlan(prime), CONTENT_DAYS);
}

/** §5.4, last paragraph: content in the trash is due 7 days after it was deleted, Prime or not. */
export function trashedContentDueAt(deletedAt: Date): Date {
  return addDays(deletedAt, TRASH_DAYS);
}

/** The start of the UTC day a moment falls on, as YYYY-MM-DD. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The end of a UTC day (the next day's 00:00Z): the last moment anything of that day can carry. */
export function endOfDay(day: string): Date {
  const start = Date.parse(`${day}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(start)) throw new RangeError('not a YYYY-MM-DD day');
  return new Date(start + DAY_MS);
}

/** §5.5: a user's chat activity of one UTC day is due 90 d after that day ended (or after the last Prime period ended); null while Prime is active. */
export function chatHistoryDueAt(day: string, prime: PrimeStatus | undefined): Date | null {
  return standardDueAt(endOfDay(day), primePlan(prime), CHAT_DAYS);
}

/**
 * §5.2, §10.3: the inactivity dates counted from the last day the account was used
 * (registration counts). They count from the END of that day: the user may have been
 * active at 23:59, and "not accessed for 1 year" must hold for the whole year.
 */
export function inactivityDueAt(lastSeenOn: string): { warningAt: Date; erasureAt: Date } {
  const basis = endOfDay(lastSeenOn);
  return { warningAt: addDays(basis, INACTIVE_WARNING_DAYS), erasureAt: addDays(basis, INACTIVE_ERASURE_DAYS) };
}

/**
 * The opaque subject id of a user's chat activity on one UTC day: a UUID (version 8, the
 * RFC 9562 custom layout) made of the first 122 bits of sha-256(userId ":" day). The same
 * user and day always give the same id, so a redelivered or repeated GenerationFinished
 * upserts the same row; it reveals neither the user nor the day.
 */
export function chatDaySubjectId(userId: string, day: string): string {
  const bytes = createHash('sha256').update(`chat-day:${userId.toLowerCase()}:${day}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

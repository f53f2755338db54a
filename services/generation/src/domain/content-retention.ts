import { addDays } from '@homiwork/clock';

/** Generation's copy of the user's Prime status, from PrimeStatusChanged. */
export interface PrimeStatus {
  active: boolean;
  /** The end of the current period (active) or of the last one (ended); null when billing gave none. */
  expiresAt: Date | null;
  changedAt: Date;
}

/**
 * What the user's Prime status means for all of their content: kept with no expiry, or
 * expiring `retentionDays` after its creation but not before `notBefore` (the end of the
 * last Prime period) plus those days.
 */
export type ExpiryPlan = { kept: true } | { kept: false; notBefore: Date | null };

/**
 * §5.4, the retention rule of generated content:
 *
 *   expiresAt = max(createdAt, end of the user's last Prime period) + CONTENT_RETENTION_DAYS,
 *   and no expiry (null) while Prime is active.
 *
 * The end of the last period is the `expiresAt` of the PrimeStatusChanged that ended it
 * (or, if it carried none, its `changedAt`); a user who never had Prime has no such end,
 * so their content expires CONTENT_RETENTION_DAYS (90, within the policy's 2–4 months)
 * after creation. Content made during Prime thus gets its full standard period once Prime
 * ends, counted from the end, never a shorter one.
 */
export function expiryPlan(prime: PrimeStatus | undefined): ExpiryPlan {
  if (!prime) return { kept: false, notBefore: null };
  if (prime.active) return { kept: true };
  return { kept: false, notBefore: prime.expiresAt ?? prime.changedAt };
}

/** The rule applied to one item (ContentsRepository.replanExpiry applies the same plan to all of a user's items in SQL). */
export function contentExpiresAt(createdAt: Date, plan: ExpiryPlan, retentionDays: number): Date | null {
  if (plan.kept) return null;
  const from = plan.notBefore && plan.notBefore > createdAt ? plan.notBefore : createdAt;
  return addDays(from, retentionDays);
}

/**
 * Whether an item is due for final removal by generation's own record, at `now`: past its
 * expiry (never while Prime keeps it: `expiresAt` is null then), or in the trash since
 * `trashCutoff` (now − CONTENT_TRASH_DAYS) or before. ContentsRepository.dueForRemoval
 * selects the same items in SQL.
 */
export function isDueForRemoval(content: { expiresAt: Date | null; deletedAt: Date | null }, now: Date, trashCutoff: Date): boolean {
  return (content.expiresAt !== null && content.expiresAt <= now) || (content.deletedAt !== null && content.deletedAt <= trashCutoff);
}

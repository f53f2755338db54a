import { addDays } from '@homiwork/clock';

/** Chat's copy of the user's Prime status, from PrimeStatusChanged (newest `changedAt` wins). */
export interface PrimeStatus {
  active: boolean;
  /** The end of the current period (active) or of the last one (ended); null when billing gave none. */
  expiresAt: Date | null;
  changedAt: Date;
}

/**
 * §5.5, the retention rule of chat messages (the same rule as generated content, §5.4):
 *
 *   a message expires at max(createdAt, end of the user's last Prime period) + CHAT_RETENTION_DAYS,
 *   and never while Prime is active.
 *
 * The end of the last period is the `expiresAt` of the PrimeStatusChanged that ended it (or
 * its `changedAt` when it carried none); a user who never had Prime has no such end, so
 * their messages expire CHAT_RETENTION_DAYS (90, within the policy's 2–4 months) after they
 * were written. A message written during Prime gets its full standard period once Prime
 * ends, counted from the end.
 *
 * Returns null while Prime keeps the message. MessagesRepository.deleteDue selects the
 * same messages in SQL: created_at <= now − days and no Prime that is active or ended after
 * now − days.
 */
export function messageExpiresAt(createdAt: Date, prime: PrimeStatus | undefined, retentionDays: number): Date | null {
  if (prime?.active) return null;
  const primeEnd = prime ? (prime.expiresAt ?? prime.changedAt) : null;
  const from = primeEnd && primeEnd > createdAt ? primeEnd : createdAt;
  return addDays(from, retentionDays);
}

export function isMessageDue(createdAt: Date, prime: PrimeStatus | undefined, retentionDays: number, now: Date): boolean {
  const expiresAt = messageExpiresAt(createdAt, prime, retentionDays);
  return expiresAt !== null && expiresAt <= now;
}

/**
 * §5 of the privacy policy as data: how long each kind of data lives, from which fact the
 * period is counted, who acts when it is up, and the clause that promises it. Retention's
 * policy clock, every service's own safety-net sweep and the documentation read their
 * periods from here and nowhere else (docs/policy-traceability.md links each entry).
 *
 * "Who acts": `retention` means retention's clock publishes the expiry event when the item
 * is due and the owning service purges on it; the owning service's own sweep is a safety
 * net that acts only SAFETY_NET_GRACE_DAYS later, so retention acts first (it sees holds,
 * Prime and erasures in one place), and every safety-net purge is a PurgeCompleted without
 * a trigger that retention counts as a miss. `service` means the owner purges on its own
 * schedule (the data never leaves its schema, so no event is needed) and retention audits
 * the PurgeCompleted receipts.
 */

export interface RetentionRule {
  /** The clause of the privacy policy. */
  readonly clause: string;
  /** What the policy says, in its words. */
  readonly promise: string;
  /** The period, in days (years and months are written as days: 1 year = 365, 2–4 months → 90). */
  readonly days: number;
  /** The fact the period is counted from. */
  readonly countedFrom: string;
  readonly owner: 'identity' | 'media' | 'generation' | 'chat' | 'billing' | 'retention';
  readonly actsFirst: 'retention' | 'service';
  /** The expiry event retention publishes, when it acts first. */
  readonly event?: 'UploadExpired' | 'ContentExpired' | 'ChatHistoryExpired' | 'InactiveAccountDue';
}

export const RETENTION_SCHEDULE = {
  /** §5.3 */
  uploads: {
    clause: '§5.3',
    promise: 'Uploaded content is stored for 7 calendar days, after which it is automatically deleted.',
    days: 7,
    countedFrom: 'the upload being stored',
    owner: 'media',
    actsFirst: 'retention',
    event: 'UploadExpired',
  },
  /** §5.4, first bullet; the second (Prime) is PRIME_KEEPS_CONTENT. */
  generatedContent: {
    clause: '§5.4',
    promise: 'For Users without Prime status, generated content is automatically deleted 2–4 months after creation; with Prime it is stored until the Prime status expires, after which standard retention periods apply.',
    days: 90,
    countedFrom: 'max(creation, end of the last Prime period); never while Prime is active',
    owner: 'generation',
    actsFirst: 'retention',
    event: 'ContentExpired',
  },
  /** §5.4, last paragraph. */
  deletedContent: {
    clause: '§5.4',
    promise: 'Upon deletion, content is marked as deleted (for recovery purposes) and completely removed after 7 calendar days.',
    days: 7,
    countedFrom: 'the soft delete (a restore cancels it)',
    owner: 'generation',
    actsFirst: 'retention',
    event: 'ContentExpired',
  },
  /** §5.5 */
  chatHistory: {
    clause: '§5.5',
    promise: 'For Users without Prime status, message history is automatically deleted after 2–4 months; with Prime it is stored until account deletion or until the Prime status expires.',
    days: 90,
    countedFrom: 'max(the message, end of the last Prime period); never while Prime is active',
    owner: 'chat',
    actsFirst: 'retention',
    event: 'ChatHistoryExpired',
  },
  /** §5.2, §10.3 */
  inactiveAccounts: {
    clause: '§5.2, §10.3',
    promise: 'Accounts that have not been accessed for 1 year are automatically deleted along with all associated data.',
    days: 365,
    countedFrom: 'the last day the account was used (or registered)',
    owner: 'identity',
    actsFirst: 'retention',
    event: 'InactiveAccountDue',
  },
  /** §5.2: the warning that precedes it (a decision: the policy names no warning period). */
  inactiveAccountWarning: {
    clause: '§5.2',
    promise: 'The user is warned by email, stating the date, before an inactive account is deleted.',
    days: 365 - 28,
    countedFrom: 'the last day the account was used (4 weeks before the erasure)',
    owner: 'identity',
    actsFirst: 'retention',
    event: 'InactiveAccountDue',
  },
  /** §5.6 */
  securityEvents: {
    clause: '§5.6',
    promise: 'Technical logs and hashes of network addresses are stored for 12 months for security and incident investigation purposes.',
    days: 365,
    countedFrom: 'the event',
    owner: 'identity',
    actsFirst: 'service',
  },
  /** §5.7, §10.2 */
  transactionRecords: {
    clause: '§5.7, §10.2',
    promise: 'Transaction data is stored for the period required by applicable law (at least 5 years) for accounting and tax purposes.',
    days: 5 * 365 + 2,
    countedFrom: 'the transaction (unlinked from the person when the account is erased)',
    owner: 'billing',
    actsFirst: 'service',
  },
  /** §9.1, R7.1: the archive of an access or portability request. */
  exports: {
    clause: '§9.1, R7.1',
    promise: 'A copy of the user’s data, delivered through an expiring link.',
    days: 3,
    countedFrom: 'the archive being ready',
    owner: 'retention',
    actsFirst: 'service',
  },
} as const satisfies Record<string, RetentionRule>;

/**
 * How long after an item is due a service's own sweep may delete it: retention acts at the
 * due time, the safety net a day later, so a safety-net purge means retention missed it.
 */
export const SAFETY_NET_GRACE_DAYS = 1;

/** §9.5: the legal deadline of a privacy request, by regime. */
export const PRIVACY_REQUEST_DEADLINE_DAYS = { gdpr: 30, ccpa: 45 } as const;

/**
 * How long an erasure may take, from the request to the last service's receipt, before it
 * shows as overdue (R7.4). The legal outer bound is the 30 days of §9.5; a healthy system
 * finishes in seconds, so a day already means something is broken.
 */
export const ERASURE_DEADLINE_HOURS = 24;

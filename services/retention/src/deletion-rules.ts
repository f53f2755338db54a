/**
 * Retention's deletion rules, checked by tools/deletion-rules.spec.ts (a DELF-style check):
 * every table of retention's schema that refers to a user, what happens to its rows when the
 * user is erased, the schedule that also removes them, and the code that does it; and the
 * object key prefix of export archives, with the use case that empties it. A table or key
 * added without a rule here fails `npm test`.
 */
export const deletionRules = {
  service: 'retention',
  tables: [
    { table: 'due_items', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts' },
    { table: 'prime_status', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts' },
    {
      table: 'exports',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      schedule: 'exports',
      purgedBy: ['services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts', 'services/retention/src/exports/usecases/expire-exports/expire-exports.usecase.ts'],
    },
    {
      // §9.5: the request, its due date and outcome stay as the record that it was answered; only the link to the person goes.
      table: 'privacy_requests',
      userColumns: ['user_id'],
      onUserDeleted: 'unlinked',
      purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts',
    },
    {
      // Statuses and times of a request (no user column): it stays with its request, which is unlinked.
      table: 'privacy_request_history',
      userColumns: [],
      onUserDeleted: 'unlinked',
      purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts',
    },
    {
      table: 'legal_holds',
      userColumns: ['user_id', 'placed_by', 'released_by'],
      onUserDeleted: 'kept: §12.2 legal record — the hold, its reason and its times must survive the erasure they held back; opaque ids only, no email or name',
      purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts',
    },
    {
      table: 'erasures',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: the legal record of the erasure (R7.4); its user_id is cleared when the erasure completes, so the signed receipt proves the purge by its opaque id alone',
      purgedBy: 'services/retention/src/erasures/usecases/complete-erasure/complete-erasure.usecase.ts',
    },
    {
      table: 'erasure_receipts',
      userColumns: [],
      onUserDeleted: 'kept: the per-service receipts of an erasure (service, time, counts; no user column) — part of the signed record',
      purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts',
    },
    {
      // Crypto-shredding: an export archive sealed under the key is unreadable once it goes.
      table: 'user_data_keys',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts',
    },
    {
      table: 'tombstones',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: by design, the opaque id and the time only — it refuses any write for the erased user afterwards (an export still being built), which is what makes the purge final',
      purgedBy: 'libs/persistence/src/user-tombstones.ts',
    },
  ],
  objectKeyPrefixes: [{ prefix: 'retention/<userId>/exports/<exportId>', purgedBy: 'services/retention/src/erasures/usecases/purge-user/purge-user.usecase.ts' }],
} as const;

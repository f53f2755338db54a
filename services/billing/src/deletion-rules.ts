/**
 * Billing's deletion rules, checked by tools/deletion-rules.spec.ts (a DELF-style check):
 * every table of billing's schema that refers to a user, what happens to its rows when the
 * user is erased, the schedule that also removes them, and the code that does it. Billing
 * keeps no objects. A table added without a rule here fails `npm test`.
 */
export const deletionRules = {
  service: 'billing',
  tables: [
    { table: 'balances', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/billing/src/usecases/purge-user/purge-user.usecase.ts' },
    { table: 'ledger_entries', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/billing/src/usecases/purge-user/purge-user.usecase.ts' },
    { table: 'reservations', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/billing/src/usecases/purge-user/purge-user.usecase.ts' },
    { table: 'prime_status', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/billing/src/usecases/purge-user/purge-user.usecase.ts' },
    {
      // §5.7, §10.2: the transaction record outlives the account without the personal link
      // (user_id cleared, an opaque unlinked_ref instead), and goes at the end of its 5 years.
      table: 'orders',
      userColumns: ['user_id'],
      onUserDeleted: 'unlinked',
      schedule: 'transactionRecords',
      purgedBy: ['services/billing/src/usecases/purge-user/purge-user.usecase.ts', 'services/billing/src/usecases/purge-transaction-records/purge-transaction-records.usecase.ts'],
    },
    {
      table: 'tombstones',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: by design, the opaque id and the time only — it refuses any write for the erased user afterwards (a reservation or grant still on its way), which is what makes the purge final',
      purgedBy: 'libs/persistence/src/user-tombstones.ts',
    },
  ],
  objectKeyPrefixes: [],
} as const;

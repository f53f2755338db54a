/**
 * Identity's deletion rules, checked by tools/deletion-rules.spec.ts (a DELF-style check):
 * every table of identity's schema that refers to a user (by id, email, username or address
 * hash), what happens to its rows when the user is erased, the schedule that also removes
 * them, and the code that does it. Identity keeps no objects. A table added without a rule
 * here fails `npm test`.
 */
export const deletionRules = {
  service: 'identity',
  tables: [
    {
      table: 'users',
      userColumns: ['email', 'username'],
      onUserDeleted: 'deleted',
      schedule: 'inactiveAccounts',
      purgedBy: 'services/identity/src/usecases/delete-account/delete-account.usecase.ts',
    },
    // Sessions and reset tokens go with the account row (ON DELETE CASCADE), refresh tokens with their session.
    { table: 'sessions', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/identity/src/usecases/delete-account/delete-account.usecase.ts' },
    { table: 'refresh_tokens', userColumns: [], onUserDeleted: 'deleted', purgedBy: 'services/identity/src/usecases/delete-account/delete-account.usecase.ts' },
    { table: 'password_reset_tokens', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/identity/src/usecases/delete-account/delete-account.usecase.ts' },
    {
      // §5.6: kept 12 months for security, pseudonymized at erasure (user_id and detail cleared).
      table: 'security_events',
      userColumns: ['user_id', 'ip_hash', 'operator_user_id'],
      onUserDeleted: 'unlinked',
      schedule: 'securityEvents',
      purgedBy: ['services/identity/src/usecases/delete-account/delete-account.usecase.ts', 'services/identity/src/usecases/purge-security-events/purge-security-events.usecase.ts'],
    },
    {
      table: 'tombstones',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: by design, the opaque id and the time only — it refuses any write for the erased user afterwards (a login or registration racing the erasure), which is what makes the purge final',
      purgedBy: 'libs/persistence/src/user-tombstones.ts',
    },
  ],
  objectKeyPrefixes: [],
} as const;

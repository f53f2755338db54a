/**
 * Chat's deletion rules, checked by tools/deletion-rules.spec.ts (a DELF-style check): every
 * table of chat's schema that refers to a user, what happens to its rows when the user is
 * erased, the schedule that also removes them, and the code that does it. Chat keeps no
 * objects. A table added without a rule here fails `npm test`.
 */
export const deletionRules = {
  service: 'chat',
  tables: [
    {
      table: 'messages',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      schedule: 'chatHistory',
      purgedBy: ['services/chat/src/usecases/purge-user/purge-user.usecase.ts', 'services/chat/src/usecases/purge-expired/purge-expired.usecase.ts'],
    },
    {
      table: 'conversations',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      schedule: 'chatHistory',
      purgedBy: ['services/chat/src/usecases/purge-user/purge-user.usecase.ts', 'services/chat/src/usecases/purge-expired/purge-expired.usecase.ts'],
    },
    { table: 'prime_status', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/chat/src/usecases/purge-user/purge-user.usecase.ts' },
    { table: 'processing_restrictions', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/chat/src/usecases/purge-user/purge-user.usecase.ts' },
    {
      // Crypto-shredding: every message sealed under the key, in backups too, is unreadable once it goes.
      table: 'user_data_keys',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      purgedBy: 'services/chat/src/usecases/purge-user/purge-user.usecase.ts',
    },
    {
      table: 'tombstones',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: by design, the opaque id and the time only — it refuses any write for the erased user afterwards (a reply still on its way), which is what makes the purge final',
      purgedBy: 'libs/persistence/src/user-tombstones.ts',
    },
  ],
  objectKeyPrefixes: [],
} as const;

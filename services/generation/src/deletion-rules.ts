/**
 * Generation's deletion rules, checked by tools/deletion-rules.spec.ts (a DELF-style check):
 * every table of generation's schema that refers to a user, what happens to its rows when the
 * user is erased, the schedule that also removes them, and the code that does it; and every
 * object key prefix generation writes under, with the use case that empties it. A table or
 * key added without a rule here fails `npm test`.
 */
export const deletionRules = {
  service: 'generation',
  tables: [
    {
      table: 'contents',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      schedule: ['generatedContent', 'deletedContent'],
      purgedBy: ['services/generation/src/usecases/purge-user/purge-user.usecase.ts', 'services/generation/src/usecases/purge-content/purge-content.usecase.ts'],
    },
    {
      // A finished job's record (no prompt) also goes JOB_RECORD_DAYS after it ended.
      table: 'jobs',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      purgedBy: ['services/generation/src/usecases/purge-user/purge-user.usecase.ts', 'services/generation/src/usecases/sweep-jobs/sweep-jobs.usecase.ts'],
    },
    { table: 'prime_status', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/generation/src/usecases/purge-user/purge-user.usecase.ts' },
    { table: 'processing_restrictions', userColumns: ['user_id'], onUserDeleted: 'deleted', purgedBy: 'services/generation/src/usecases/purge-user/purge-user.usecase.ts' },
    {
      table: 'tombstones',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: by design, the opaque id and the time only — it refuses any write for the erased user afterwards (a job still running), and the erased-objects sweep finds late results by it',
      purgedBy: 'libs/persistence/src/user-tombstones.ts',
    },
  ],
  objectKeyPrefixes: [{ prefix: 'generation/<userId>/<contentId>', purgedBy: 'services/generation/src/usecases/purge-user/purge-user.usecase.ts' }],
} as const;

/**
 * Media's deletion rules, checked by tools/deletion-rules.spec.ts (a DELF-style check): every
 * table of media's schema that refers to a user, what happens to its rows when the user is
 * erased, the schedule that also removes them, and the code that does it; and every object
 * key prefix media writes under, with the use case that empties it. A table or key added
 * without a rule here fails `npm test`.
 */
export const deletionRules = {
  service: 'media',
  tables: [
    {
      table: 'uploads',
      userColumns: ['user_id'],
      onUserDeleted: 'deleted',
      schedule: 'uploads',
      purgedBy: 'services/media/src/usecases/purge-uploads/purge-uploads.usecase.ts',
    },
    {
      table: 'tombstones',
      userColumns: ['user_id'],
      onUserDeleted: 'kept: by design, the opaque id and the time only — it refuses any write for the erased user afterwards (an upload still streaming), which is what makes the purge final',
      purgedBy: 'libs/persistence/src/user-tombstones.ts',
    },
  ],
  objectKeyPrefixes: [{ prefix: 'media/<userId>/uploads/<uploadId>', purgedBy: 'services/media/src/usecases/purge-uploads/purge-uploads.usecase.ts' }],
} as const;
